package io.rocketkv.cuda;

import io.rocketkv.cuda.bindings.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The argument list of a kernel launch, in the form cuLaunchKernel takes: {@code void** kernelParams}, an
 * array of pointers, each to one argument's value. Every value sits in its own 8-byte slot of one native
 * block; the Java type decides how many bytes of it the kernel reads, so it must match the C parameter:
 *
 * <table>
 * <caption>Java argument → C parameter</caption>
 * <tr><td>{@link DeviceBuffer}, {@link MemorySegment}</td><td>any pointer (8 bytes)</td></tr>
 * <tr><td>{@code Long}</td><td>{@code long long}, {@code size_t}, a raw device pointer</td></tr>
 * <tr><td>{@code Integer}</td><td>{@code int}, {@code unsigned}</td></tr>
 * <tr><td>{@code Float}</td><td>{@code float}</td></tr>
 * <tr><td>{@code Double}</td><td>{@code double}</td></tr>
 * <tr><td>{@code Short}, {@code Byte}, {@code Boolean}</td><td>{@code short}, {@code char}, {@code bool}</td></tr>
 * </table>
 */
public final class KernelArgs {

    private static final int SLOT = 8;

    private final Object[] values;

    private KernelArgs(Object[] values) {
        this.values = values;
    }

    public static KernelArgs of(Object... values) {
        Object[] copy = values.clone();
        for (int i = 0; i < copy.length; i++) {
            Object v = copy[i];
            if (v == null) {
                throw new IllegalArgumentException("kernel argument " + i + " is null; pass 0L for a null pointer");
            }
            if (!(v instanceof DeviceBuffer || v instanceof MemorySegment || v instanceof Long || v instanceof Integer
                    || v instanceof Float || v instanceof Double || v instanceof Short || v instanceof Byte
                    || v instanceof Boolean)) {
                throw new IllegalArgumentException("kernel argument " + i + " is a " + v.getClass().getName()
                        + "; use DeviceBuffer, MemorySegment, Long, Integer, Float, Double, Short, Byte or Boolean");
            }
        }
        return new KernelArgs(copy);
    }

    public int size() {
        return values.length;
    }

    /** Writes the values and the pointer array into {@code arena}; returns the pointer array (NULL if none). */
    MemorySegment toKernelParams(Arena arena) {
        if (values.length == 0) {
            return MemorySegment.NULL;
        }
        MemorySegment slots = arena.allocate((long) SLOT * values.length, SLOT);
        MemorySegment pointers = arena.allocate(cuda_h.C_POINTER, values.length);
        for (int i = 0; i < values.length; i++) {
            long off = (long) SLOT * i;
            switch (values[i]) {
                case DeviceBuffer d -> slots.set(ValueLayout.JAVA_LONG, off, d.address());
                case MemorySegment m -> slots.set(ValueLayout.JAVA_LONG, off, m.address());
                case Long l -> slots.set(ValueLayout.JAVA_LONG, off, l);
                case Integer n -> slots.set(ValueLayout.JAVA_INT, off, n);
                case Float f -> slots.set(ValueLayout.JAVA_FLOAT, off, f);
                case Double d -> slots.set(ValueLayout.JAVA_DOUBLE, off, d);
                case Short s -> slots.set(ValueLayout.JAVA_SHORT, off, s);
                case Byte b -> slots.set(ValueLayout.JAVA_BYTE, off, b);
                case Boolean b -> slots.set(ValueLayout.JAVA_BYTE, off, (byte) (b ? 1 : 0));
                default -> throw new AssertionError(values[i]);
            }
            pointers.setAtIndex(ValueLayout.ADDRESS, i, slots.asSlice(off, SLOT));
        }
        return pointers;
    }

    @Override
    public String toString() {
        return Arrays.toString(values);
    }
}
