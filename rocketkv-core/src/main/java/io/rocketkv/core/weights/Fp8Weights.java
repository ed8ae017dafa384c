package io.rocketkv.core.weights;

import io.rocketkv.core.numeric.DType;
import java.util.Arrays;
import java.util.Optional;

/**
 * Reads fp8 linear-layer weights the way NVIDIA ModelOpt, {@code compressed-tensors} and vLLM's {@code fp8} format
 * write them, per linear layer {@code X}:
 *
 * <ul>
 *   <li>{@code X.weight}: F8_E4M3 {@code [out, in]};</li>
 *   <li>{@code X.weight_scale}: F32, BF16 or F16, one value (shape {@code []}, {@code [1]}: per tensor) or one per
 *       output row ({@code [out]}, {@code [out, 1]}: per channel), {@code value = e4m3 · scale};</li>
 *   <li>{@code X.input_scale} (optional): the static activation scale, one value; recorded, not applied.</li>
 * </ul>
 *
 * Refused, naming the tensor: block-wise scales (a {@code weight_scale} of another shape, e.g.
 * {@code [out/128, in/128]}, or a {@code weight_scale_inv} as DeepSeek-style checkpoints write), an fp8 weight with
 * no scale, F8_E5M2 weights, scales that are negative or not finite, and a non-scalar input scale.
 */
public final class Fp8Weights {

    /** Appended to a weight's name for its scale: {@code X.weight} → {@code X.weight_scale}. */
    public static final String SCALE_SUFFIX = "_scale";
    /** The block-wise scale spelling of DeepSeek-style checkpoints ({@code X.weight_scale_inv}), refused. */
    public static final String BLOCK_SCALE_SUFFIX = "_scale_inv";

    private static final String WEIGHT = "weight";

    private Fp8Weights() {
    }

    /** Whether the tensor holds fp8 elements (e4m3 or e5m2). */
    public static boolean isFp8(TensorInfo info) {
        return info.dtype() == DType.F8_E4M3 || info.dtype() == DType.F8_E5M2;
    }

    /** {@code X.weight_scale} for {@code X.weight}. */
    public static String scaleName(String weightName) {
        return weightName + SCALE_SUFFIX;
    }

    /** {@code X.input_scale} for {@code X.weight}. */
    public static String inputScaleName(String weightName) {
        return stem(weightName) + "input_scale";
    }

    /**
     * The fp8 weight {@code name} ({@code [out, in]} F8_E4M3) with its scales.
     *
     * @throws CheckpointFormatException naming the tensor when it is missing, not a 2-D e4m3 tensor, has no scale,
     *                                   or has a scale layout that is not supported (block-wise among them)
     */
    public static Fp8Weight read(SafeTensors weights, String name) {
        TensorInfo info = weights.require(name);
        if (info.dtype() != DType.F8_E4M3) {
            throw new CheckpointFormatException("tensor " + name + " in " + info.file() + " is "
                    + info.dtype().safetensorsName() + ": fp8 weights must be F8_E4M3 (e4m3fn) with a "
                    + scaleName(name) + "; F8_E5M2 weights are not supported");
        }
        if (info.rank() != 2 || info.dim(0) > Integer.MAX_VALUE || info.dim(1) > Integer.MAX_VALUE) {
            throw new CheckpointFormatException("tensor " + name + " in " + info.file() + " has shape "
                    + Arrays.toString(info.shape()) + ": fp8 weights are linear-layer matrices [out, in]");
        }
        int rows = (int) info.dim(0);
        int cols = (int) info.dim(1);
        Optional<TensorInfo> blockScale = weights.find(name + BLOCK_SCALE_SUFFIX);
        if (blockScale.isPresent()) {
            throw new CheckpointFormatException("tensor " + blockScale.get().name() + " (shape "
                    + Arrays.toString(blockScale.get().shape()) + ") holds block-wise scales for the fp8 weight "
                    + name + " [" + rows + ", " + cols + "]: block-wise fp8 is not supported; only per-tensor and "
                    + "per-channel weight_scale tensors are (re-export the checkpoint with per-tensor FP8)");
        }
        String scaleName = scaleName(name);
        TensorInfo scale = weights.find(scaleName).orElseThrow(() -> new CheckpointFormatException("the fp8 "
                + "weight " + name + " in " + info.file() + " has no " + scaleName + " tensor: an e4m3 weight needs "
                + "its scale (per tensor or per output channel) to be read"));
        float[] scales = readScales(weights, scale, name, rows, cols);
        return new Fp8Weight(name, rows, cols, weights.data(name), scales, inputScale(weights, name));
    }

    /**
     * The fp8 weights of a checkpoint by scale layout.
     *
     * @param weights     fp8 weight tensors
     * @param perChannel  those with one scale per output row (the others have one per tensor)
     * @param inputScales those with a static {@code input_scale}
     */
    public record Summary(int weights, int perChannel, int inputScales) {
        public int perTensor() {
            return weights - perChannel;
        }
    }

    /**
     * Reads every fp8 tensor named {@code *weight} ({@link #read}) and counts them by scale layout.
     *
     * @throws CheckpointFormatException as {@link #read}, for the first (by name) that is not supported
     */
    public static Summary summarize(SafeTensors weights) {
        int count = 0;
        int perChannel = 0;
        int inputScales = 0;
        for (String name : weights.names()) {
            if (name.endsWith(WEIGHT) && isFp8(weights.info(name))) {
                Fp8Weight w = read(weights, name);
                count++;
                perChannel += w.perChannel() ? 1 : 0;
                inputScales += w.hasInputScale() ? 1 : 0;
            }
        }
        return new Summary(count, perChannel, inputScales);
    }

    private static float[] readScales(SafeTensors weights, TensorInfo scale, String weight, int rows, int cols) {
        long[] s = scale.shape();
        boolean perTensor = scale.elementCount() == 1 && s.length <= 2;
        boolean perChannel = (s.length == 1 && s[0] == rows) || (s.length == 2 && s[0] == rows && s[1] == 1);
        if (!perTensor && !perChannel) {
            String layout = s.length == 2 && s[0] > 0 && s[1] > 0 && s[0] <= rows && s[1] <= cols
                    ? "block-wise scales (blocks of " + ceilDiv(rows, s[0]) + " x " + ceilDiv(cols, s[1]) + ")"
                    : "a scale layout that matches neither the tensor nor its output channels";
            throw new CheckpointFormatException("tensor " + scale.name() + " in " + scale.file() + " has shape "
                    + Arrays.toString(s) + " for the fp8 weight " + weight + " [" + rows + ", " + cols + "]: "
                    + layout + " is not supported; a weight_scale must be per tensor ([] or [1]) or per output "
                    + "channel ([" + rows + "] or [" + rows + ", 1])");
        }
        float[] values = floats(weights, scale);
        for (int i = 0; i < values.length; i++) {
            if (!(values[i] >= 0) || Float.isInfinite(values[i])) {
                throw new CheckpointFormatException("tensor " + scale.name() + " in " + scale.file() + " holds "
                        + values[i] + " at element " + i + ": fp8 weight scales must be finite and >= 0");
            }
        }
        return values;
    }

    private static float inputScale(SafeTensors weights, String weight) {
        Optional<TensorInfo> found = weights.find(inputScaleName(weight));
        if (found.isEmpty()) {
            return Float.NaN;
        }
        TensorInfo t = found.get();
        if (t.elementCount() != 1) {
            throw new CheckpointFormatException("tensor " + t.name() + " in " + t.file() + " has shape "
                    + Arrays.toString(t.shape()) + ": a static input scale is one value (per-tensor activations)");
        }
        float v = floats(weights, t)[0];
        if (!(v > 0) || Float.isInfinite(v)) {
            throw new CheckpointFormatException("tensor " + t.name() + " in " + t.file() + " holds " + v
                    + ": an input scale must be finite and > 0");
        }
        return v;
    }

    private static float[] floats(SafeTensors weights, TensorInfo t) {
        DType d = t.dtype();
        if (d != DType.F32 && d != DType.BF16 && d != DType.F16) {
            throw new CheckpointFormatException("tensor " + t.name() + " in " + t.file() + " is "
                    + d.safetensorsName() + ": fp8 scales must be F32, BF16 or F16");
        }
        return weights.readFloats(t.name());
    }

    private static String stem(String weightName) {
        if (!weightName.endsWith(WEIGHT)) {
            throw new IllegalArgumentException("'" + weightName + "' is not a weight tensor name (*." + WEIGHT + ")");
        }
        return weightName.substring(0, weightName.length() - WEIGHT.length());
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
