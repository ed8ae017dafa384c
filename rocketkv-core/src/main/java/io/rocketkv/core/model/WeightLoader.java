package io.rocketkv.core.model;

import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.OutOfDeviceMemoryException;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.weights.CheckpointFormatException;
import io.rocketkv.core.weights.Fp8Weight;
import io.rocketkv.core.weights.Fp8Weights;
import io.rocketkv.core.weights.SafeTensors;
import io.rocketkv.core.weights.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Looks up a model's tensors by name, checks their shapes against the config and binds them to the backend
 * (optionally one tensor-parallel rank's rows or columns). Weights are F32, F16 or BF16; a linear layer's weight
 * may also be F8_E4M3 with its scales ({@link Fp8Weights}), bound through {@link Kernels#fp8Weight} with the
 * dtype of the embedding table as the dtype to dequantize to (the checkpoint's unquantized dtype).
 */
final class WeightLoader {

    static final String EMBEDDING = "model.embed_tokens.weight";

    private final SafeTensors weights;
    private final Kernels kernels;
    private final LoadProgress progress;
    private final long total;       // bytes of every tensor of the checkpoint
    private long done;              // bytes bound so far
    private final DType unquantized; // what fp8 weights are dequantized to

    WeightLoader(SafeTensors weights, Kernels kernels, LoadProgress progress) {
        this.weights = weights;
        this.kernels = kernels;
        this.progress = progress;
        long bytes = 0;
        for (String name : weights.names()) {
            bytes += weights.info(name).byteSize();
        }
        this.total = bytes;
        DType embedding = weights.find(EMBEDDING).map(TensorInfo::dtype).orElse(DType.BF16);
        this.unquantized = embedding == DType.F32 || embedding == DType.F16 ? embedding : DType.BF16;
    }

    /** A whole tensor that is not a linear layer's weight (embedding, norms, biases): never fp8. */
    Tensor load(String name, int... expectedShape) {
        TensorInfo info = check(name, false, expectedShape);
        return bind(name, info, expectedShape, weights.data(name));
    }

    /** A whole linear layer's weight {@code [rows, cols]} (lm_head): F32, F16, BF16 or fp8. */
    Tensor linear(String name, int rows, int cols) {
        return rows(name, new TensorParallelPlan.Range(0, rows), rows, cols);
    }

    /**
     * Rows {@code r} of {@code name} ([rows, cols], a linear layer's weight, or a vector of {@code rows} when
     * {@code cols} is absent): a contiguous slice of the checkpoint, bound in place where the backend reads the
     * mapping.
     */
    Tensor rows(String name, TensorParallelPlan.Range r, int rows, int... cols) {
        int[] shape = cols.length == 0 ? new int[] {rows} : new int[] {rows, cols[0]};
        TensorInfo info = check(name, cols.length == 1, shape);
        return slice(name, info, r, rows, cols.length == 0 ? 0 : cols[0], info.byteSize());
    }

    /**
     * The parts of a fused linear layer's weight {@code name}: {@code [sum(partRows), cols]}, part i being the
     * {@code partRows[i]} rows after the parts before it (Phi-3's {@code qkv_proj} is [q; k; v], its
     * {@code gate_up_proj} [gate; up]); of part i, the rows {@code keep[i]} (relative to the part). Each is a
     * contiguous slice of the checkpoint, as from {@link #rows}; each part counts its share of the tensor's bytes
     * toward the progress.
     */
    Tensor[] fusedRows(String name, int cols, int[] partRows, TensorParallelPlan.Range... keep) {
        if (keep.length != partRows.length) {
            throw new IllegalArgumentException(partRows.length + " parts of " + name + ", " + keep.length + " ranges");
        }
        int total = Arrays.stream(partRows).sum();
        TensorInfo info = check(name, true, total, cols);
        Tensor[] parts = new Tensor[partRows.length];
        int offset = 0;
        long counted = 0;
        for (int i = 0; i < parts.length; i++) {
            if (keep[i].end() > partRows[i]) {
                throw new IllegalArgumentException("rows " + keep[i] + " outside part " + i + " of " + name + " ("
                        + partRows[i] + " rows)");
            }
            var r = new TensorParallelPlan.Range(offset + keep[i].start(), offset + keep[i].end());
            long share = i == parts.length - 1 ? info.byteSize() - counted : info.byteSize() * partRows[i] / total;
            parts[i] = slice(name, info, r, total, cols, share);
            counted += share;
            offset += partRows[i];
        }
        return parts;
    }

    /**
     * Rows {@code r} of {@code name} ({@code rows} of {@code cols} elements; cols 0: a vector), counting
     * {@code bytes} toward the progress (an fp8 slice counts its own bytes and scales).
     */
    private Tensor slice(String name, TensorInfo info, TensorParallelPlan.Range r, int rows, int cols, long bytes) {
        if (info.dtype() == DType.F8_E4M3) {
            return bindFp8(Fp8Weights.read(weights, name).rows(r.start(), r.length()));
        }
        int[] sliced = cols == 0 ? new int[] {r.length()} : new int[] {r.length(), cols};
        long rowBytes = (long) Math.max(1, cols) * info.dtype().byteSize();
        MemorySegment data = r.start() == 0 && r.end() == rows ? weights.data(name)
                : weights.data(name).asSlice(r.start() * rowBytes, r.length() * rowBytes);
        return bound(name, bytes, () -> kernels.weight(info.dtype(), sliced, data));
    }

    /**
     * Columns {@code c} of the linear layer's weight {@code name} ([rows, cols]), those outside {@code keep} zeroed
     * (an fp8 zero byte is 0.0 too): gathered into a new host buffer, then bound.
     */
    Tensor columns(String name, TensorParallelPlan.Range c, TensorParallelPlan.Range keep, int rows, int cols) {
        TensorInfo info = check(name, true, rows, cols);
        boolean fp8 = info.dtype() == DType.F8_E4M3;
        MemorySegment data = weights.data(name);
        if (!(c.start() == 0 && c.end() == cols && keep.equals(c))) {
            long es = info.dtype().byteSize();
            // an automatic arena: the CPU backend keeps reading the buffer for as long as the weight lives
            MemorySegment dst = Arena.ofAuto().allocate((long) rows * c.length() * es, 8);
            int from = Math.max(c.start(), keep.start());
            int to = Math.min(c.end(), keep.end());
            for (long i = 0; i < rows && to > from; i++) { // the allocation is zeroed; copy the kept columns
                MemorySegment.copy(data, (i * cols + from) * es, dst, (i * c.length() + from - c.start()) * es,
                        (long) (to - from) * es);
            }
            data = dst;
        }
        if (fp8) {
            return bindFp8(Fp8Weights.read(weights, name).withColumns(c.length(), data));
        }
        return bind(name, info, new int[] {rows, c.length()}, data);
    }

    private TensorInfo check(String name, boolean linear, int... expectedShape) {
        TensorInfo info = weights.require(name);
        long[] actual = info.shape();
        long[] expected = Arrays.stream(expectedShape).asLongStream().toArray();
        if (!Arrays.equals(actual, expected)) {
            throw new CheckpointFormatException("tensor " + name + " in " + info.file() + " has shape "
                    + Arrays.toString(actual) + " but config.json implies " + Arrays.toString(expected)
                    + "; the checkpoint and its config.json do not match");
        }
        DType dt = info.dtype();
        if (dt == DType.F32 || dt == DType.F16 || dt == DType.BF16 || (linear && dt == DType.F8_E4M3)) {
            return info;
        }
        throw new CheckpointFormatException("tensor " + name + " in " + info.file() + " is " + dt + "; "
                + (linear ? "linear-layer weights must be F32, F16, BF16, or F8_E4M3 with a weight_scale"
                : "embeddings, norms and biases must be F32, F16 or BF16 (fp8 is read for linear layers only)")
                + " (other quantized formats are not supported)");
    }

    private Tensor bindFp8(Fp8Weight w) {
        return bound(w.name(), w.byteSize(), () -> kernels.fp8Weight(w, unquantized));
    }

    private Tensor bind(String name, TensorInfo info, int[] shape, MemorySegment data) {
        return bound(name, info.byteSize(), () -> kernels.weight(info.dtype(), shape, data));
    }

    private Tensor bound(String name, long bytes, java.util.function.Supplier<Tensor> upload) {
        Tensor t;
        try {
            t = upload.get();
        } catch (OutOfDeviceMemoryException e) {
            throw e.naming("weight " + name + " (after " + (done >> 20) + " of " + (total >> 20)
                    + " MiB of weights were loaded)", "the model needs a device with more free memory");
        }
        done += bytes;
        progress.loaded(name, done, total);
        return t;
    }
}
