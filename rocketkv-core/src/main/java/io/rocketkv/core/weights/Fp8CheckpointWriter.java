package io.rocketkv.core.weights;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.core.numeric.DType;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Writes an fp8 checkpoint, as NVIDIA ModelOpt exports one, from an F32, F16 or BF16 Hugging Face checkpoint: every
 * linear layer of the decoder ({@code model.layers.*_proj.weight}) becomes an F8_E4M3 {@code weight} with an F32
 * {@code weight_scale} ({@link Fp8Quantizer}: absmax / 448, per tensor, or per output channel); embeddings, norms,
 * biases and {@code lm_head} are copied unchanged. {@code config.json} gets a {@code quantization_config}
 * ({@code quant_method modelopt}, {@code quant_algo FP8} or {@code FP8_PER_CHANNEL_PER_TOKEN}, lm_head excluded)
 * and {@code hf_quant_config.json} the same in ModelOpt's own form; the tokenizer and generation files are copied.
 * Shards stay shards (one output file per input file, a new index). No input scales are written: static activation
 * scales need calibration data.
 */
public final class Fp8CheckpointWriter {

    /** ModelOpt's own description of the quantization, beside config.json. */
    public static final String HF_QUANT_CONFIG = "hf_quant_config.json";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONFIG = "config.json";
    private static final List<String> COPIED_PREFIXES = List.of("tokenizer", "special_tokens_map", "chat_template",
            "added_tokens", "generation_config", "vocab.", "merges.");

    private Fp8CheckpointWriter() {
    }

    /**
     * What was written.
     *
     * @param quantized   linear-layer weights written as fp8
     * @param kept        tensors copied unchanged
     * @param inputBytes  bytes of the input's tensors
     * @param outputBytes bytes of the output's tensors (scales included)
     * @param copied      other files copied (tokenizer, generation config)
     */
    public record Result(int quantized, int kept, long inputBytes, long outputBytes, List<String> copied) {
        public Result {
            copied = List.copyOf(copied);
        }
    }

    /** Whether {@code t} is a decoder linear layer's weight ({@code model.layers.*_proj.weight}, 2-D): quantized. */
    public static boolean quantizes(TensorInfo t) {
        return t.rank() == 2 && t.name().startsWith("model.layers.") && t.name().endsWith("_proj.weight");
    }

    /**
     * Converts the checkpoint folder {@code input} into {@code output} (created if absent).
     *
     * @throws IllegalArgumentException  when {@code output} is {@code input} or already holds a checkpoint
     * @throws CheckpointFormatException when the input has no config.json, is already quantized, holds a linear
     *                                   weight that is not F32, F16 or BF16, or holds NaN or infinity
     */
    public static Result convert(Path input, Path output, boolean perChannel) throws IOException {
        Path in = input.toAbsolutePath().normalize();
        Path out = output.toAbsolutePath().normalize();
        if (in.equals(out)) {
            throw new IllegalArgumentException("the output folder must differ from the input folder " + in);
        }
        if (Files.exists(out.resolve(CONFIG)) || Files.exists(out.resolve(SafeTensors.SINGLE_FILE_NAME))
                || Files.exists(out.resolve(ShardIndex.FILE_NAME))) {
            throw new IllegalArgumentException("output folder " + out + " already holds a checkpoint: choose a new "
                    + "or empty folder");
        }
        Path configFile = in.resolve(CONFIG);
        if (!Files.isRegularFile(configFile)) {
            throw new CheckpointFormatException("checkpoint folder " + in + " has no " + CONFIG);
        }
        if (!(JSON.readTree(configFile.toFile()) instanceof ObjectNode config)) {
            throw new CheckpointFormatException(configFile + " is not a JSON object");
        }
        if (config.hasNonNull("quantization_config")) {
            throw new CheckpointFormatException(configFile + " already has a quantization_config ("
                    + config.get("quantization_config") + "): convert an unquantized F32, F16 or BF16 checkpoint");
        }
        Files.createDirectories(out);
        int quantized = 0;
        int kept = 0;
        long inBytes = 0;
        long outBytes = 0;
        Map<String, String> weightMap = new TreeMap<>();
        try (SafeTensors weights = SafeTensors.open(in)) {
            FiniteWeights.check(weights); // an fp8 checkpoint never holds NaN
            Map<Path, List<String>> byFile = new LinkedHashMap<>();
            for (Path f : weights.files()) {
                byFile.put(f, new ArrayList<>());
            }
            for (String name : weights.names()) {
                byFile.get(weights.info(name).file()).add(name);
            }
            for (Map.Entry<Path, List<String>> file : byFile.entrySet()) {
                SafeTensorsWriter writer = new SafeTensorsWriter().metadata("format", "pt");
                String fileName = byFile.size() == 1 ? SafeTensors.SINGLE_FILE_NAME
                        : file.getKey().getFileName().toString();
                for (String name : file.getValue()) {
                    TensorInfo t = weights.info(name);
                    inBytes += t.byteSize();
                    if (quantizes(t)) {
                        outBytes += addFp8(writer, weights, t, perChannel);
                        weightMap.put(Fp8Weights.scaleName(name), fileName);
                        quantized++;
                    } else {
                        byte[] bytes = weights.data(name).toArray(ValueLayout.JAVA_BYTE);
                        writer.add(name, t.dtype(), t.shape(), bytes);
                        outBytes += bytes.length;
                        kept++;
                    }
                    weightMap.put(name, fileName);
                }
                writer.write(out.resolve(fileName));
            }
        }
        if (weightMap.values().stream().distinct().count() > 1) {
            writeIndex(out.resolve(ShardIndex.FILE_NAME), weightMap, outBytes);
        }
        writeConfigs(config, out, perChannel);
        return new Result(quantized, kept, inBytes, outBytes, copyTokenizerFiles(in, out));
    }

    private static long addFp8(SafeTensorsWriter writer, SafeTensors weights, TensorInfo t, boolean perChannel) {
        if (t.dtype() != DType.F32 && t.dtype() != DType.F16 && t.dtype() != DType.BF16) {
            throw new CheckpointFormatException("tensor " + t.name() + " in " + t.file() + " is "
                    + t.dtype().safetensorsName() + ": only F32, F16 or BF16 weights convert to fp8");
        }
        int rows = Math.toIntExact(t.dim(0));
        int cols = Math.toIntExact(t.dim(1));
        Fp8Quantizer.Quantized q = Fp8Quantizer.quantize(weights.readFloats(t.name()), rows, cols, perChannel);
        writer.add(t.name(), DType.F8_E4M3, t.shape(), q.e4m3());
        long[] scaleShape = perChannel ? new long[] {rows} : new long[0];
        writer.add(Fp8Weights.scaleName(t.name()), DType.F32, scaleShape, q.scales());
        return q.e4m3().length + (long) q.scales().length * Float.BYTES;
    }

    private static void writeIndex(Path file, Map<String, String> weightMap, long totalSize) throws IOException {
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", totalSize);
        ObjectNode map = index.putObject("weight_map");
        weightMap.forEach(map::put);
        JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), index);
    }

    /** config.json with quantization_config, and hf_quant_config.json (ModelOpt's own spelling of the same). */
    private static void writeConfigs(ObjectNode config, Path out, boolean perChannel) throws IOException {
        String algo = perChannel ? "FP8_PER_CHANNEL_PER_TOKEN" : "FP8";
        ObjectNode q = config.putObject("quantization_config");
        q.put("quant_method", "modelopt");
        q.put("quant_algo", algo);
        q.putArray("exclude_modules").add("lm_head");
        q.putObject("producer").put("name", "rocketkv-java");
        JSON.writerWithDefaultPrettyPrinter().writeValue(out.resolve(CONFIG).toFile(), config);
        ObjectNode hf = JSON.createObjectNode();
        hf.putObject("producer").put("name", "rocketkv-java");
        ObjectNode quantization = hf.putObject("quantization");
        quantization.put("quant_algo", algo);
        quantization.putNull("kv_cache_quant_algo");
        quantization.putArray("exclude_modules").add("lm_head");
        JSON.writerWithDefaultPrettyPrinter().writeValue(out.resolve(HF_QUANT_CONFIG).toFile(), hf);
    }

    private static List<String> copyTokenizerFiles(Path in, Path out) throws IOException {
        List<String> copied = new ArrayList<>();
        try (Stream<Path> files = Files.list(in)) {
            for (Path f : files.sorted().toList()) {
                String name = f.getFileName().toString();
                if (Files.isRegularFile(f) && COPIED_PREFIXES.stream().anyMatch(name::startsWith)) {
                    Files.copy(f, out.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                    copied.add(name);
                }
            }
        }
        return copied;
    }
}
