package io.rocketkv.cuda.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Optional;

/**
 * A shared library found by soname (the first of several that loads) and the downcall handles bound to
 * its symbols. Loading never throws: a library or symbol that is missing yields a handle that throws
 * {@link IllegalStateException} when called, so binding classes can be initialised on any machine and
 * callers can ask {@link #isLoaded()} / {@link #failure()} first.
 */
@SuppressWarnings("restricted") // loading libraries and binding symbols is this class's job
public final class NativeLibrary {

    private static final Linker LINKER = Linker.nativeLinker();

    private final String name;
    private final SymbolLookup lookup; // null when no soname loaded
    private final String failure;      // null when loaded

    private NativeLibrary(String name, SymbolLookup lookup, String failure) {
        this.name = name;
        this.lookup = lookup;
        this.failure = failure;
    }

    /** Loads the first of {@code sonames} that the dynamic linker finds, for the life of the JVM. */
    public static NativeLibrary load(String... sonames) {
        StringBuilder failures = new StringBuilder();
        for (String soname : sonames) {
            try {
                return new NativeLibrary(soname, SymbolLookup.libraryLookup(soname, Arena.global()), null);
            } catch (RuntimeException e) { // IllegalArgumentException: not found; IllegalCallerException: native access denied
                if (!failures.isEmpty()) {
                    failures.append("; ");
                }
                failures.append(soname).append(": ").append(e.getMessage());
            }
        }
        return new NativeLibrary(String.join(" or ", sonames), null, failures.toString());
    }

    /** The soname that loaded, or all that were tried ("a or b") when none did. */
    public String name() {
        return name;
    }

    public boolean isLoaded() {
        return lookup != null;
    }

    /** Why the library could not be loaded; empty when it was. */
    public Optional<String> failure() {
        return Optional.ofNullable(failure);
    }

    /** The address of {@code symbol}, if the library is loaded and exports it. */
    public Optional<MemorySegment> find(String symbol) {
        return lookup == null ? Optional.empty() : lookup.find(symbol);
    }

    /**
     * A downcall handle for {@code symbol} with {@code descriptor}; where the library or the symbol is
     * missing, a handle of the same type that throws {@link IllegalStateException} saying so.
     */
    public MethodHandle downcall(String symbol, FunctionDescriptor descriptor) {
        if (lookup == null) {
            return throwing(descriptor, symbol + ": " + name + " could not be loaded (" + failure + ")");
        }
        return find(symbol)
                .map(address -> LINKER.downcallHandle(address, descriptor))
                .orElseGet(() -> throwing(descriptor, "unresolved symbol " + symbol + " in " + name
                        + " (the installed driver or library is older than this binding)"));
    }

    private static MethodHandle throwing(FunctionDescriptor descriptor, String message) {
        MethodType type = descriptor.toMethodType();
        try {
            MethodHandle make = MethodHandles.lookup()
                    .findStatic(NativeLibrary.class, "unavailable",
                            MethodType.methodType(IllegalStateException.class, String.class))
                    .bindTo(message);
            MethodHandle thrower = MethodHandles.throwException(type.returnType(), IllegalStateException.class);
            return MethodHandles.dropArguments(MethodHandles.collectArguments(thrower, 0, make), 0,
                    type.parameterList());
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    @SuppressWarnings("unused") // called through the handle built in throwing()
    private static IllegalStateException unavailable(String message) {
        return new IllegalStateException(message);
    }

    @Override
    public String toString() {
        return isLoaded() ? name : name + " (not loaded: " + failure + ")";
    }
}
