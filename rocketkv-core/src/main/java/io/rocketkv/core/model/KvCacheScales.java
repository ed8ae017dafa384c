package io.rocketkv.core.model;

import io.rocketkv.core.weights.CheckpointFormatException;
import io.rocketkv.core.weights.SafeTensors;

/**
 * The per-layer scales of an fp8 KV cache, as quantizing tools write them into a checkpoint (NVIDIA ModelOpt and
 * {@code compressed-tensors}: scalars {@code model.layers.N.self_attn.k_scale} and {@code ...v_scale}, or, as
 * ModelOpt's Hugging Face export names them, {@code ...self_attn.k_proj.k_scale} and {@code ...v_proj.v_scale}; a K
 * element x is stored as e4m3(x / k_scale)). A layer without them gets 1.0 for both, as TensorRT-LLM and vLLM do; a
 * checkpoint that has one of the pair without the other, a non-scalar scale or a scale that is not positive and
 * finite is refused naming the tensor.
 *
 * @param k [layer] K scales
 * @param v [layer] V scales
 */
public record KvCacheScales(float[] k, float[] v) {

    /** The scales of a checkpoint of {@code layers} layers. */
    public static KvCacheScales read(SafeTensors weights, int layers) {
        float[] k = new float[layers];
        float[] v = new float[layers];
        for (int i = 0; i < layers; i++) {
            String p = "model.layers." + i + ".self_attn.";
            String kName = name(weights, p + "k_scale", p + "k_proj.k_scale");
            String vName = name(weights, p + "v_scale", p + "v_proj.v_scale");
            if ((kName == null) != (vName == null)) {
                throw new CheckpointFormatException("the checkpoint has " + (kName != null ? kName : vName)
                        + " without " + p + (kName != null ? "v_scale" : "k_scale")
                        + ": an fp8 KV cache needs both or neither");
            }
            k[i] = kName != null ? scalar(weights, kName) : 1f;
            v[i] = vName != null ? scalar(weights, vName) : 1f;
        }
        return new KvCacheScales(k, v);
    }

    /** 1.0 for every layer's K and V. */
    public static KvCacheScales ones(int layers) {
        float[] k = new float[layers];
        float[] v = new float[layers];
        java.util.Arrays.fill(k, 1f);
        java.util.Arrays.fill(v, 1f);
        return new KvCacheScales(k, v);
    }

    /** Whether any layer has a scale other than 1.0. */
    public boolean scaled() {
        for (int i = 0; i < k.length; i++) {
            if (k[i] != 1f || v[i] != 1f) {
                return true;
            }
        }
        return false;
    }

    /** The first of the names the checkpoint has, or null. */
    private static String name(SafeTensors weights, String... names) {
        for (String n : names) {
            if (weights.contains(n)) {
                return n;
            }
        }
        return null;
    }

    private static float scalar(SafeTensors weights, String name) {
        float[] x = weights.readFloats(name);
        if (x.length != 1) {
            throw new CheckpointFormatException(name + " has " + x.length + " elements; a KV cache scale is one scalar"
                    + " per layer (per-head or per-channel KV scales are not supported)");
        }
        if (!(x[0] > 0f && Float.isFinite(x[0]))) {
            throw new CheckpointFormatException(name + " is " + x[0] + "; a KV cache scale must be positive and finite");
        }
        return x[0];
    }
}
