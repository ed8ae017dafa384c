package io.rocketkv.core.model;

/**
 * YaRN's inverse frequencies and attention factor, as transformers 5.18's {@code _compute_yarn_parameters}
 * computes them (float32 tensors, Python double scalars):
 * <pre>
 * pos_freqs = base ** (torch.arange(0, dim, 2).to(dtype=torch.float) / dim)
 * inv_freq_extrapolation = 1.0 / pos_freqs
 * inv_freq_interpolation = 1.0 / (factor * pos_freqs)
 * low, high = find_correction_range(beta_fast, beta_slow, dim, base, original_max_position_embeddings, truncate)
 * inv_freq_extrapolation_factor = 1 - linear_ramp_factor(low, high, dim // 2)
 * inv_freq = inv_freq_interpolation * (1 - inv_freq_extrapolation_factor)
 *            + inv_freq_extrapolation * inv_freq_extrapolation_factor
 * </pre>
 */
final class YarnFrequencies {

    private YarnFrequencies() {
    }

    static float[] invFreq(double base, int dim, RopeScaling.Yarn y) {
        float[] pos = RopeFrequencies.powers((float) base, dim);
        double[] range = correctionRange(y.betaFast(), y.betaSlow(), dim, base, y.originalMaxPositionEmbeddings(),
                y.truncate());
        double min = range[0];
        double max = range[1];
        if (min == max) {
            max += 0.001; // "Prevent singularity"
        }
        float span = (float) (max - min);
        float factor = (float) y.factor();
        float[] inv = new float[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            float extrapolation = 1.0f / pos[i];
            float interpolation = 1.0f / (factor * pos[i]);
            float ramp = Math.min(Math.max(((float) i - (float) min) / span, 0.0f), 1.0f);
            float extrapolationFactor = 1 - ramp;
            inv[i] = interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
        }
        return inv;
    }

    /**
     * <pre>
     * def get_mscale(scale, mscale=1):
     *     if scale &lt;= 1: return 1.0
     *     return 0.1 * mscale * math.log(scale) + 1.0
     * if attention_factor is None:
     *     if mscale and mscale_all_dim:
     *         attention_factor = float(get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim))
     *     else:
     *         attention_factor = get_mscale(factor)
     * </pre>
     */
    static double attentionFactor(RopeScaling.Yarn y) {
        if (y.attentionFactor() != null) {
            return y.attentionFactor();
        }
        if (nonZero(y.mscale()) && nonZero(y.mscaleAllDim())) {
            return mscale(y.factor(), y.mscale()) / mscale(y.factor(), y.mscaleAllDim());
        }
        return mscale(y.factor(), 1);
    }

    private static boolean nonZero(Double v) {
        return v != null && v != 0;
    }

    private static double mscale(double scale, double mscale) {
        return scale <= 1 ? 1.0 : 0.1 * mscale * Math.log(scale) + 1.0;
    }

    /**
     * <pre>
     * def find_correction_dim(num_rotations, dim, base, max_position_embeddings):
     *     return (dim * math.log(max_position_embeddings / (num_rotations * 2 * math.pi))) / (2 * math.log(base))
     * low, high = find_correction_dim(low_rot, ...), find_correction_dim(high_rot, ...)
     * if truncate: low, high = math.floor(low), math.ceil(high)
     * return max(low, 0), min(high, dim - 1)
     * </pre>
     */
    private static double[] correctionRange(double lowRot, double highRot, int dim, double base, int original,
                                            boolean truncate) {
        double low = correctionDim(lowRot, dim, base, original);
        double high = correctionDim(highRot, dim, base, original);
        if (truncate) {
            low = Math.floor(low);
            high = Math.ceil(high);
        }
        return new double[] {Math.max(low, 0), Math.min(high, dim - 1)};
    }

    private static double correctionDim(double rotations, int dim, double base, int original) {
        return (dim * Math.log(original / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
    }
}
