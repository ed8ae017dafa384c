package io.rocketkv.cuda;

import io.rocketkv.cuda.bindings.NativeLibrary;
import io.rocketkv.cuda.bindings.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The entry point to the CUDA driver: whether it is usable here ({@link #isAvailable()}, probed once:
 * {@code libcuda.so.1} loads and exports every bound symbol, {@code cuInit} succeeds, at least one device),
 * the devices, and the status check every facade call goes through.
 *
 * <p>On a machine without a driver nothing here throws {@link UnsatisfiedLinkError}: the probe records why
 * CUDA is unavailable and every request for a device, context or launch throws
 * {@link CudaUnavailableException} with that reason.
 */
public final class CudaDriver {

    private static final Logger LOG = LoggerFactory.getLogger(CudaDriver.class);

    private CudaDriver() {
    }

    private record Probe(String reason, int deviceCount, int driverVersion) {
        boolean available() {
            return reason.isEmpty();
        }
    }

    private static final class ProbeHolder {
        static final Probe PROBE = probe();
    }

    /** True when the driver loaded, cuInit succeeded and there is at least one CUDA device. */
    public static boolean isAvailable() {
        return ProbeHolder.PROBE.available();
    }

    /** Why CUDA is unavailable (naming libcuda.so.1, cuInit's error or the missing device); empty when available. */
    public static String unavailableReason() {
        return ProbeHolder.PROBE.reason();
    }

    /** Throws {@link CudaUnavailableException} naming {@code what} when CUDA is unavailable. */
    public static void require(String what) {
        if (!isAvailable()) {
            throw new CudaUnavailableException(what, unavailableReason());
        }
    }

    /** Number of CUDA devices (0 when unavailable). */
    public static int deviceCount() {
        return ProbeHolder.PROBE.deviceCount();
    }

    /** The driver's CUDA version as {@code 1000 * major + 10 * minor} (13000 for 13.0); 0 when unknown. */
    public static int driverVersion() {
        return ProbeHolder.PROBE.driverVersion();
    }

    /** The device with the given ordinal. */
    public static CudaDevice device(int ordinal) {
        require("CudaDriver.device(" + ordinal + ")");
        if (ordinal < 0 || ordinal >= deviceCount()) {
            throw new IllegalArgumentException("CUDA device " + ordinal + " does not exist: there are " + deviceCount()
                    + " (ordinals 0.." + (deviceCount() - 1) + ")");
        }
        return CudaDevice.open(ordinal);
    }

    private static Probe probe() {
        NativeLibrary lib = cuda_h.library();
        if (!lib.isLoaded()) {
            return unavailable("libcuda.so.1 (the NVIDIA driver) could not be loaded: " + lib.failure().orElse("?"));
        }
        try {
            List<String> missing = cuda_h.SYMBOLS.stream().filter(s -> lib.find(s).isEmpty()).toList();
            int version = driverVersionOrZero();
            if (!missing.isEmpty()) {
                return unavailable("libcuda.so.1 (driver CUDA version " + version + ") lacks " + missing
                        + ": the NVIDIA driver is older than CUDA 13.0 needs; update it");
            }
            int status = cuda_h.cuInit(0);
            if (status != cuda_h.CUDA_SUCCESS) {
                return unavailable("cuInit(0) failed: " + errorName(status) + " (" + status + "): " + errorString(status));
            }
            int count;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(cuda_h.C_INT);
                check(cuda_h.cuDeviceGetCount(out), "cuDeviceGetCount");
                count = out.get(cuda_h.C_INT, 0);
            }
            if (count == 0) {
                return unavailable("libcuda.so.1 loaded but there is no CUDA device (cuDeviceGetCount = 0)");
            }
            LOG.debug("CUDA available: driver {}, {} device(s)", version, count);
            return new Probe("", count, version);
        } catch (RuntimeException | LinkageError e) {
            return unavailable("probing the CUDA driver failed: " + e);
        }
    }

    private static Probe unavailable(String reason) {
        LOG.debug("CUDA unavailable: {}", reason);
        return new Probe(reason, 0, 0);
    }

    private static int driverVersionOrZero() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(cuda_h.C_INT);
            return cuda_h.cuDriverGetVersion(out) == cuda_h.CUDA_SUCCESS ? out.get(cuda_h.C_INT, 0) : 0;
        }
    }

    /** Throws {@link CudaException} when {@code status} is not CUDA_SUCCESS. */
    static void check(int status, String function) {
        if (status != cuda_h.CUDA_SUCCESS) {
            throw new CudaException(function, status, errorName(status), errorString(status), null);
        }
    }

    /** Throws {@link CudaException} carrying {@code context} when {@code status} is not CUDA_SUCCESS. */
    static void check(int status, String function, String context) {
        if (status != cuda_h.CUDA_SUCCESS) {
            throw new CudaException(function, status, errorName(status), errorString(status), context);
        }
    }

    /** The name of a CUresult, e.g. {@code CUDA_ERROR_INVALID_VALUE} (cuGetErrorName). */
    public static String errorName(int status) {
        return describe(status, true);
    }

    /** The driver's description of a CUresult (cuGetErrorString). */
    public static String errorString(int status) {
        return describe(status, false);
    }

    private static String describe(int status, boolean name) {
        if (cuda_h.library().isLoaded()) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(cuda_h.C_POINTER);
                int s = name ? cuda_h.cuGetErrorName(status, out) : cuda_h.cuGetErrorString(status, out);
                MemorySegment text = out.get(cuda_h.C_POINTER, 0);
                if (s == cuda_h.CUDA_SUCCESS && !text.equals(MemorySegment.NULL)) {
                    return text.getString(0);
                }
            } catch (RuntimeException e) {
                // fall through to the number
            }
        }
        return name ? "CUresult " + status : "unknown CUDA error " + status;
    }
}
