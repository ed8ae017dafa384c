package io.rocketkv.cuda.bindings;

import java.lang.foreign.MemorySegment;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Traces downcalls of the binding classes when {@code -Drocketkv.cuda.trace} is set: {@code true} (or
 * {@code slf4j}) logs at INFO to the SLF4J logger {@code io.rocketkv.cuda.trace}, {@code stderr} prints
 * to standard error. One line per call, after it returns: {@code cuMemAlloc_v2(0x7f.., 4096) -> 0}.
 */
final class DowncallTrace {

    static final String PROPERTY = "rocketkv.cuda.trace";

    private static final String MODE = System.getProperty(PROPERTY, "false").trim().toLowerCase(Locale.ROOT);
    static final boolean ENABLED = !MODE.isEmpty() && !MODE.equals("false");
    private static final boolean STDERR = MODE.equals("stderr");
    private static final Logger LOG = LoggerFactory.getLogger("io.rocketkv.cuda.trace");

    private DowncallTrace() {
    }

    static void trace(String function, Object result, Object... args) {
        String line = format(function, result, args);
        if (STDERR) {
            System.err.println("[rocketkv.cuda.trace] " + line);
        } else {
            LOG.info(line);
        }
    }

    static String format(String function, Object result, Object... args) {
        StringBuilder sb = new StringBuilder(function).append('(');
        for (int i = 0; i < args.length; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(show(args[i]));
        }
        return sb.append(") -> ").append(show(result)).toString();
    }

    private static String show(Object o) {
        if (o instanceof MemorySegment s) {
            return s.equals(MemorySegment.NULL) ? "NULL" : "0x" + Long.toHexString(s.address());
        }
        if (o instanceof Long l && (l > 0xFFFF_FFFFL || l < 0)) {
            return "0x" + Long.toHexString(l); // device pointers
        }
        return String.valueOf(o);
    }
}
