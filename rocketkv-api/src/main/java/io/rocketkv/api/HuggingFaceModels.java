package io.rocketkv.api;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds a checkpoint directory for a model named as a local path or as a Hugging Face id {@code org/name}.
 * An id is looked up in the local Hugging Face cache only, never on the network: the cache root is
 * {@code $HF_HUB_CACHE}, else {@code $HF_HOME/hub}, else {@code ~/.cache/huggingface/hub} (as the
 * {@code huggingface_hub} library chooses it), and the checkpoint is
 * {@code <root>/models--org--name/snapshots/<rev>}, where {@code rev} is the commit in
 * {@code refs/main}, or the only snapshot when there is no {@code refs/main}. Download a model into the
 * cache with {@code hf download org/name} (or {@code huggingface-cli download org/name}).
 */
public final class HuggingFaceModels {

    /** {@code org/name}: each part as the Hub allows it (letters, digits, '-', '_', '.'). */
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");

    private HuggingFaceModels() {
    }

    /** Resolves {@code model} with this process's environment and home directory. */
    public static Path resolve(String model) {
        return resolve(model, System::getenv, Path.of(System.getProperty("user.home")));
    }

    /**
     * Resolves {@code model}: an existing directory is returned as it is; otherwise an {@code org/name} id is
     * looked up in the cache chosen by {@code env} ({@code HF_HUB_CACHE}, {@code HF_HOME}) and {@code home}.
     *
     * @throws ModelNotFoundException naming every place looked in and how to get the model there
     */
    static Path resolve(String model, Function<String, String> env, Path home) {
        if (model == null || model.isBlank()) {
            throw new ModelNotFoundException("model must be a checkpoint directory or a Hugging Face id org/name,"
                    + " got " + (model == null ? "null" : "\"" + model + "\""));
        }
        Path local = Path.of(model);
        if (Files.isDirectory(local)) {
            return local;
        }
        List<String> looked = new ArrayList<>();
        looked.add(local.toAbsolutePath() + " (local directory: " + (Files.exists(local) ? "not a directory" : "absent") + ")");
        if (!ID.matcher(model).matches()) {
            throw new ModelNotFoundException("model \"" + model + "\" is neither a checkpoint directory nor a Hugging"
                    + " Face id of the form org/name; looked in: " + String.join("; ", looked));
        }
        Path root = cacheRoot(env, home);
        Path repo = root.resolve("models--" + model.replace("/", "--"));
        Path snapshots = repo.resolve("snapshots");
        Path ref = repo.resolve("refs").resolve("main");
        if (Files.isRegularFile(ref)) {
            String rev = read(ref).strip();
            Path snapshot = snapshots.resolve(rev);
            if (!rev.isEmpty() && Files.isDirectory(snapshot)) {
                return snapshot;
            }
            looked.add(snapshot + " (named by " + ref + ": absent)");
        } else {
            looked.add(ref + " (absent)");
        }
        List<Path> all = list(snapshots);
        if (all.size() == 1) {
            return all.get(0);
        }
        looked.add(snapshots + (all.isEmpty() ? " (no snapshots)"
                : " (" + all.size() + " snapshots and no usable refs/main: " + all.stream()
                        .map(p -> p.getFileName().toString()).sorted().toList() + "; pass one snapshot's path)"));
        throw new ModelNotFoundException("model \"" + model + "\" is not in the local Hugging Face cache " + root
                + " (chosen from " + rootSource(env) + "); looked in: " + String.join("; ", looked)
                + ". Download it with: hf download " + model + " (nothing is downloaded here), or pass the"
                + " checkpoint directory");
    }

    /** {@code $HF_HUB_CACHE}, else {@code $HF_HOME/hub}, else {@code <home>/.cache/huggingface/hub}. */
    static Path cacheRoot(Function<String, String> env, Path home) {
        String hubCache = env.apply("HF_HUB_CACHE");
        if (hubCache != null && !hubCache.isBlank()) {
            return Path.of(hubCache);
        }
        String hfHome = env.apply("HF_HOME");
        if (hfHome != null && !hfHome.isBlank()) {
            return Path.of(hfHome, "hub");
        }
        return home.resolve(".cache").resolve("huggingface").resolve("hub");
    }

    private static String rootSource(Function<String, String> env) {
        String hubCache = env.apply("HF_HUB_CACHE");
        if (hubCache != null && !hubCache.isBlank()) {
            return "HF_HUB_CACHE";
        }
        String hfHome = env.apply("HF_HOME");
        return hfHome != null && !hfHome.isBlank() ? "HF_HOME" : "the default, as neither HF_HUB_CACHE nor HF_HOME is set";
    }

    private static List<Path> list(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("listing " + dir, e);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + file, e);
        }
    }
}
