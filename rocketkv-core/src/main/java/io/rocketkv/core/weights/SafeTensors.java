package io.rocketkv.core.weights;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * A safetensors checkpoint, memory-mapped: one {@code model.safetensors} file, or the shards listed in
 * {@code model.safetensors.index.json}. Tensor data is never copied onto the heap: {@link #data} returns a slice
 * of the mapping. The mappings belong to a shared {@link Arena} owned by this object: {@link #close()} unmaps
 * them, after which every segment handed out throws {@link IllegalStateException} on access. Safe for
 * concurrent reads from several threads.
 *
 * <p>Every header is validated on {@link #open} (see {@link SafeTensorsHeader}); anything wrong with the files
 * is reported as a {@link CheckpointFormatException} naming the file and the tensor.
 */
public final class SafeTensors implements AutoCloseable {

    /** The single-file checkpoint name in a Hugging Face model folder. */
    public static final String SINGLE_FILE_NAME = "model.safetensors";

    private static final Logger LOG = LoggerFactory.getLogger(SafeTensors.class);

    private record Entry(TensorInfo info, MemorySegment mapping) {}

    private final Path source;
    private final Arena arena;
    private final Map<String, Entry> tensors; // sorted by name
    private final Map<String, String> metadata;
    private final List<Path> files;

    private SafeTensors(Path source, Arena arena, Map<String, Entry> tensors, Map<String, String> metadata,
                        List<Path> files) {
        this.source = source;
        this.arena = arena;
        this.tensors = tensors;
        this.metadata = metadata;
        this.files = files;
    }

    /**
     * Opens a checkpoint: a {@code .safetensors} file, a {@code *.index.json} shard index, or a folder holding
     * {@code model.safetensors} or (when that is absent) {@code model.safetensors.index.json}.
     *
     * @throws CheckpointFormatException when nothing is there, a file cannot be read, or any file is malformed
     */
    public static SafeTensors open(Path fileOrDir) {
        Path path = fileOrDir.toAbsolutePath().normalize();
        if (Files.isDirectory(path)) {
            Path single = path.resolve(SINGLE_FILE_NAME);
            Path index = path.resolve(ShardIndex.FILE_NAME);
            CheckpointFiles.requireRegularIfPresent(single, "the weights file");
            CheckpointFiles.requireRegularIfPresent(index, "the shard index");
            if (Files.isRegularFile(single)) {
                return openSingle(single);
            }
            if (Files.isRegularFile(index)) {
                return openSharded(index);
            }
            throw new CheckpointFormatException("checkpoint folder " + path + " has neither " + SINGLE_FILE_NAME
                    + " nor " + ShardIndex.FILE_NAME + ": point to a Hugging Face model folder with safetensors "
                    + "weights (convert .bin/.pth weights to safetensors first).");
        }
        if (!Files.exists(path)) {
            throw new CheckpointFormatException("checkpoint " + path + " does not exist: pass a .safetensors file, "
                    + "a *.index.json shard index, or a model folder.");
        }
        CheckpointFiles.requireRegularIfPresent(path, "checkpoint");
        return path.getFileName().toString().endsWith(".index.json") ? openSharded(path) : openSingle(path);
    }

    private static SafeTensors openSingle(Path file) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapping = map(file, arena, null);
            SafeTensorsHeader.Parsed parsed = SafeTensorsHeader.parse(file, mapping);
            Map<String, Entry> tensors = new TreeMap<>();
            for (TensorInfo t : parsed.tensors()) {
                tensors.put(t.name(), new Entry(t, mapping));
            }
            return new SafeTensors(file, arena, Collections.unmodifiableMap(tensors), parsed.metadata(),
                    List.of(file));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static SafeTensors openSharded(Path indexFile) {
        ShardIndex index = ShardIndex.read(indexFile);
        Map<Path, String> firstTensorOfShard = new LinkedHashMap<>();
        index.weightMap().forEach((tensor, shard) -> firstTensorOfShard.putIfAbsent(shard, tensor));
        Arena arena = Arena.ofShared();
        try {
            Map<Path, Map<String, Entry>> shardTensors = new HashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (Map.Entry<Path, String> e : firstTensorOfShard.entrySet()) {
                Path shard = e.getKey();
                CheckpointFiles.requireRegularIfPresent(shard, "shard");
                if (!Files.isRegularFile(shard)) {
                    throw new CheckpointFormatException("shard " + shard + " named in " + indexFile
                            + " (it holds tensor '" + e.getValue() + "', among others) does not exist: the "
                            + "download is incomplete; fetch every shard the index lists.");
                }
                MemorySegment mapping = map(shard, arena, e.getValue());
                SafeTensorsHeader.Parsed parsed = SafeTensorsHeader.parse(shard, mapping);
                Map<String, Entry> byName = new HashMap<>();
                for (TensorInfo t : parsed.tensors()) {
                    byName.put(t.name(), new Entry(t, mapping));
                }
                shardTensors.put(shard, byName);
                parsed.metadata().forEach(metadata::putIfAbsent);
            }
            Map<String, Entry> tensors = new TreeMap<>();
            for (Map.Entry<String, Path> e : index.weightMap().entrySet()) {
                Entry entry = shardTensors.get(e.getValue()).get(e.getKey());
                if (entry == null) {
                    throw new CheckpointFormatException("tensor '" + e.getKey() + "' is listed in " + indexFile
                            + " as stored in shard " + e.getValue() + ", but that shard has no such tensor: the "
                            + "index and the shards do not match; download or export the checkpoint again.");
                }
                tensors.put(e.getKey(), entry);
            }
            shardTensors.forEach((shard, byName) -> byName.keySet().stream()
                    .filter(name -> !index.weightMap().containsKey(name))
                    .forEach(name -> LOG.debug("{}: tensor '{}' is not in the index; ignored", shard, name)));
            return new SafeTensors(indexFile, arena, Collections.unmodifiableMap(tensors),
                    Collections.unmodifiableMap(metadata), List.copyOf(firstTensorOfShard.keySet()));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static MemorySegment map(Path file, Arena arena, String tensorForMessage) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < 8) { // also avoids mapping an empty file
                throw new CheckpointFormatException(file + " is " + size + " bytes long, shorter than the 8-byte "
                        + "header length of a safetensors file" + (tensorForMessage == null ? "" : " (it should "
                        + "hold tensor '" + tensorForMessage + "')") + ". Download or export it again.");
            }
            return channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        } catch (IOException e) {
            throw new CheckpointFormatException("cannot read " + file + ": " + e + ".", e);
        }
    }

    /** The path that was opened: the safetensors file or the shard index. */
    public Path source() {
        return source;
    }

    /** The safetensors files mapped (one, or every shard). */
    public List<Path> files() {
        return files;
    }

    /** Tensor names, sorted. */
    public Set<String> names() {
        return tensors.keySet();
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** The tensor called {@code name}, or empty (for optional tensors such as a tied {@code lm_head.weight}). */
    public Optional<TensorInfo> find(String name) {
        Entry e = tensors.get(name);
        return e == null ? Optional.empty() : Optional.of(e.info());
    }

    /**
     * The tensor called {@code name}, which the caller needs.
     *
     * @throws CheckpointFormatException naming the checkpoint and the tensor when it is missing
     */
    public TensorInfo require(String name) {
        return entry(name).info();
    }

    /** Same as {@link #require}. */
    public TensorInfo info(String name) {
        return require(name);
    }

    /**
     * The raw bytes of tensor {@code name}: a read-only slice of the file mapping, valid until {@link #close()}.
     * Elements are little-endian, row-major; read them with unaligned little-endian layouts.
     *
     * @throws CheckpointFormatException when the tensor is missing
     */
    public MemorySegment data(String name) {
        Entry e = entry(name);
        return e.mapping().asSlice(e.info().fileOffset(), e.info().byteSize());
    }

    /**
     * Tensor {@code name} converted to {@code float} (F32, F16, BF16, F8_E4M3, F8_E5M2; F64 is narrowed).
     *
     * @throws CheckpointFormatException when the tensor is missing, has an integer dtype, or has more than
     *                                   {@code Integer.MAX_VALUE - 8} elements (use {@link #data} for those)
     */
    public float[] readFloats(String name) {
        Entry e = entry(name);
        TensorInfo info = e.info();
        if (!info.dtype().isFloatingPoint()) {
            throw new CheckpointFormatException(info.file() + ": tensor '" + name + "' has dtype "
                    + info.dtype().safetensorsName() + ", not a floating-point type: it cannot be read as floats "
                    + "(read its bytes with data() instead, or check that this is the right tensor).");
        }
        if (info.elementCount() > Integer.MAX_VALUE - 8) {
            throw new CheckpointFormatException(info.file() + ": tensor '" + name + "' has " + info.elementCount()
                    + " elements, too many for a Java float[]: read it in slices of data() instead.");
        }
        return TensorReader.toFloats(data(name), info.dtype(), (int) info.elementCount());
    }

    /** The {@code __metadata__} string map (for a sharded checkpoint, the shards' maps merged; first wins). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Unmaps the files. Segments returned by {@link #data} become inaccessible. Idempotent. */
    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    private Entry entry(String name) {
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException("checkpoint " + source + " is closed");
        }
        Entry e = tensors.get(name);
        if (e == null) {
            throw new CheckpointFormatException(missingMessage(name));
        }
        return e;
    }

    private String missingMessage(String name) {
        int dot = name.lastIndexOf('.', name.lastIndexOf('.') - 1);
        String suffix = dot < 0 ? name : name.substring(dot);
        List<String> similar = new ArrayList<>();
        for (String n : tensors.keySet()) {
            if (n.endsWith(suffix) && similar.size() < 3) {
                similar.add(n);
            }
        }
        return "checkpoint " + source + " has no tensor '" + name + "' (it has " + tensors.size() + " tensors"
                + (similar.isEmpty() ? "" : ", e.g. " + String.join(", ", similar)) + "): check that the "
                + "checkpoint matches its config.json (architecture, number of layers, tied embeddings).";
    }

    @Override
    public String toString() {
        return "SafeTensors[" + source + ", " + tensors.size() + " tensors in " + files.size() + " file(s)]";
    }
}
