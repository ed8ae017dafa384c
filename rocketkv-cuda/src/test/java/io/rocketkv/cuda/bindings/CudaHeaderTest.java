package io.rocketkv.cuda.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Checks every {@link cuda_h} binding against the installed {@code cuda.h} (the toolkit that builds this
 * module has one; skipped where it is absent): the symbol is what the header maps its public name to, and
 * the parameters have the header's count and carriers (pointer, 64-bit, 32-bit, float, byte).
 */
class CudaHeaderTest {

    private static Optional<Path> header() {
        List<Path> candidates = new ArrayList<>();
        String home = System.getenv("CUDA_HOME");
        if (home != null) {
            candidates.add(Path.of(home, "include", "cuda.h"));
        }
        candidates.add(Path.of("/usr/local/cuda/include/cuda.h"));
        return candidates.stream().filter(Files::isRegularFile).findFirst();
    }

    @Test
    void bindingsMatchTheInstalledHeader() throws IOException, ReflectiveOperationException {
        Optional<Path> path = header();
        assumeTrue(path.isPresent(), "no cuda.h here (CUDA_HOME/include or /usr/local/cuda/include)");
        String text = Files.readString(path.get());
        // the public API section ends where the header re-declares the old ABIs for its own implementation
        Matcher internal = Pattern.compile("(?m)^#if defined\\(__CUDA_API_VERSION_INTERNAL\\)\\s*$").matcher(text);
        String api = internal.find() ? text.substring(0, internal.start()) : text;

        Map<String, String> publicNameOf = new HashMap<>(); // symbol -> the name the API declares it under
        Matcher define = Pattern.compile("(?m)^#define\\s+(cu\\w+)\\s+(?:__CUDA_API_PT[DS][SZ]\\()?(cu\\w+)\\)?\\s*$")
                .matcher(text);
        while (define.find()) {
            publicNameOf.putIfAbsent(define.group(2), define.group(1));
        }
        Set<String> handles = new HashSet<>();
        Matcher typedef = Pattern.compile("typedef\\s+struct\\s+\\w+\\s*\\*\\s*(\\w+)\\s*;").matcher(text);
        while (typedef.find()) {
            handles.add(typedef.group(1));
        }

        List<String> problems = new ArrayList<>();
        for (BindingsShapeTest.Binding b : BindingsShapeTest.bindings(cuda_h.class)) {
            String declared = publicNameOf.getOrDefault(b.name(), b.name());
            Matcher decl = Pattern.compile("CUresult\\s+CUDAAPI\\s+" + Pattern.quote(declared) + "\\s*\\(([^)]*)\\)\\s*;")
                    .matcher(api);
            if (!decl.find()) {
                problems.add(b.name() + ": no declaration of " + declared + " in " + path.get());
                continue;
            }
            String params = decl.group(1).replaceAll("\\s+", " ").strip();
            List<String> cParams = params.equals("void") || params.isEmpty() ? List.of() : List.of(params.split(","));
            List<Class<?>> carriers = b.descriptor().toMethodType().parameterList();
            if (cParams.size() != carriers.size()) {
                problems.add(b.name() + ": header has " + cParams.size() + " parameters (" + params + "), binding "
                        + carriers.size());
                continue;
            }
            for (int i = 0; i < cParams.size(); i++) {
                Class<?> expected = carrier(cParams.get(i).strip(), handles);
                if (expected != carriers.get(i)) {
                    problems.add(b.name() + " parameter " + i + " (" + cParams.get(i).strip() + "): header says "
                            + expected.getSimpleName() + ", binding " + carriers.get(i).getSimpleName());
                }
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
        assertEquals(cuda_h.SYMBOLS.size(), BindingsShapeTest.bindings(cuda_h.class).size());
    }

    /** The Java carrier a C parameter declaration ("const void *srcHost", "size_t N") needs on x86-64 Linux. */
    private static Class<?> carrier(String param, Set<String> handles) {
        String type = param.replaceAll("\\b\\w+$", "").replace("const", "").strip();
        if (type.contains("*") || handles.contains(type)) {
            return MemorySegment.class;
        }
        return switch (type) {
            case "size_t", "CUdeviceptr", "unsigned long long", "cuuint64_t" -> long.class;
            case "float" -> float.class;
            case "unsigned char" -> byte.class;
            case "double" -> double.class;
            default -> Stream.of("int", "unsigned int", "CUdevice").anyMatch(type::equals) || type.startsWith("CU")
                    ? int.class : Void.class; // CU* enums are int; anything else is unexpected
        };
    }
}
