package io.rocketkv.cuda;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.cuda.bindings.NativeLibrary;
import io.rocketkv.cuda.bindings.nccl_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * NCCL ({@code libnccl.so.2}) for collectives between the GPUs of one host: whether it loads (with a reason
 * when not, like {@link CudaDriver}), its version, unique ids, group calls and the mapping of
 * {@code ncclResult_t} codes to {@link NcclException}. Communicators are {@link NcclCommunicator}s.
 *
 * <p>Where the library is missing nothing throws {@link UnsatisfiedLinkError}: {@link #isAvailable()} is
 * false, {@link #unavailableReason()} names {@code libnccl.so.2}, and every call that needs NCCL throws
 * {@link CudaUnavailableException} with that reason.
 */
public final class Nccl {

    /** The soname loaded. */
    public static final String LIBRARY = "libnccl.so.2";

    private static final Logger LOG = LoggerFactory.getLogger(Nccl.class);

    /** ncclResult_t names by code (nccl.h); index = code. */
    private static final List<String> RESULT_NAMES = List.of("ncclSuccess", "ncclUnhandledCudaError",
            "ncclSystemError", "ncclInternalError", "ncclInvalidArgument", "ncclInvalidUsage", "ncclRemoteError",
            "ncclInProgress", "ncclTimeout");

    private Nccl() {
    }

    private record Probe(String reason, int version) {
    }

    private static final class ProbeHolder {
        static final Probe PROBE = probe();
    }

    /** True when {@code libnccl.so.2} loads and exports every bound symbol. Needs no GPU. */
    public static boolean isAvailable() {
        return ProbeHolder.PROBE.reason().isEmpty();
    }

    /** Why NCCL is unavailable (naming {@code libnccl.so.2} and what is missing); empty when available. */
    public static String unavailableReason() {
        return ProbeHolder.PROBE.reason();
    }

    /** NCCL's version code ({@code 22704} for 2.27.4; codes up to 2.8 were {@code X*1000+Y*100+Z}); 0 when unavailable. */
    public static int version() {
        return ProbeHolder.PROBE.version();
    }

    /** Throws {@link CudaUnavailableException} naming {@code what} when NCCL is unavailable. */
    public static void require(String what) {
        if (!isAvailable()) {
            throw new CudaUnavailableException(what, unavailableReason());
        }
    }

    static String reasonFor(NativeLibrary lib, List<String> symbols) {
        if (!lib.isLoaded()) {
            return LIBRARY + " (NCCL) could not be loaded: " + lib.failure().orElse("?")
                    + "; install NCCL 2 (e.g. the libnccl2 package) or put the directory holding " + LIBRARY
                    + " on LD_LIBRARY_PATH";
        }
        List<String> missing = new ArrayList<>();
        for (String s : symbols) {
            if (lib.find(s).isEmpty()) {
                missing.add(s);
            }
        }
        return missing.isEmpty() ? "" : LIBRARY + " loaded but lacks " + String.join(", ", missing)
                + "; install a newer NCCL 2";
    }

    private static Probe probe() {
        String reason = reasonFor(nccl_h.library(), nccl_h.SYMBOLS);
        if (!reason.isEmpty()) {
            LOG.debug("NCCL unavailable: {}", reason);
            return new Probe(reason, 0);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(nccl_h.C_INT);
            int code = nccl_h.ncclGetVersion(out);
            if (code != nccl_h.ncclSuccess) {
                return new Probe("ncclGetVersion failed: " + resultName(code) + " (" + code + ")", 0);
            }
            int version = out.get(nccl_h.C_INT, 0);
            LOG.debug("NCCL available: version {}", version);
            return new Probe("", version);
        } catch (RuntimeException e) {
            return new Probe("probing " + LIBRARY + " failed: " + e, 0);
        }
    }

    /** The {@code ncclResult_t} name of {@code code}, e.g. {@code ncclInvalidArgument}; {@code ncclResult_t 42} if unknown. */
    public static String resultName(int code) {
        return code >= 0 && code < RESULT_NAMES.size() ? RESULT_NAMES.get(code) : "ncclResult_t " + code;
    }

    /** NCCL's text for {@code code} (ncclGetErrorString); empty where the library is not loaded. */
    public static String errorString(int code) {
        if (!nccl_h.library().isLoaded()) {
            return "";
        }
        MemorySegment s = nccl_h.ncclGetErrorString(code);
        return s.equals(MemorySegment.NULL) ? "" : s.getString(0);
    }

    /** Throws {@link NcclException} unless {@code code} is ncclSuccess. */
    static void check(int code, String function, String context) {
        if (code != nccl_h.ncclSuccess) {
            throw new NcclException(function, code, errorString(code), context);
        }
    }

    /** The NCCL element type of {@code type}: F32 → ncclFloat32, BF16 → ncclBfloat16, F16 → ncclFloat16. */
    public static int dataType(DType type) {
        return switch (type) {
            case F32 -> nccl_h.ncclFloat32;
            case BF16 -> nccl_h.ncclBfloat16;
            case F16 -> nccl_h.ncclFloat16;
            default -> throw new IllegalArgumentException("NCCL collectives here take F32, BF16 or F16, got " + type);
        };
    }

    /** A fresh {@code ncclUniqueId} (128 bytes) to hand to every rank's {@link NcclCommunicator#initRank}. */
    public static byte[] uniqueId() {
        require("Nccl.uniqueId");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment id = arena.allocate(nccl_h.ncclUniqueId);
            check(nccl_h.ncclGetUniqueId(id), "ncclGetUniqueId", null);
            return id.toArray(nccl_h.C_CHAR);
        }
    }

    /** ncclGroupStart: collectives until {@link #groupEnd()} are launched together (one thread, many ranks). */
    public static void groupStart() {
        require("Nccl.groupStart");
        check(nccl_h.ncclGroupStart(), "ncclGroupStart", null);
    }

    /** ncclGroupEnd: launches the collectives queued since {@link #groupStart()}. */
    public static void groupEnd() {
        require("Nccl.groupEnd");
        check(nccl_h.ncclGroupEnd(), "ncclGroupEnd", null);
    }
}
