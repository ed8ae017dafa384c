package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Resolving {@code org/name} ids against a fake Hugging Face cache built here (never the real home). */
class HuggingFaceModelsTest {

    @TempDir
    Path tmp;

    private static Function<String, String> env(Map<String, String> vars) {
        return vars::get;
    }

    /** {@code <root>/models--org--name/snapshots/<rev>} with a config.json, written by hand. */
    private static Path snapshot(Path root, String repoDir, String rev) throws IOException {
        Path dir = root.resolve(repoDir).resolve("snapshots").resolve(rev);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), "{}");
        return dir;
    }

    @Test
    void refsMainPicksItsSnapshotAmongSeveral() throws IOException {
        Path root = tmp.resolve("hub");
        snapshot(root, "models--acme--tiny-llama", "1111");
        Path wanted = snapshot(root, "models--acme--tiny-llama", "2222");
        Files.createDirectories(root.resolve("models--acme--tiny-llama/refs"));
        Files.writeString(root.resolve("models--acme--tiny-llama/refs/main"), "2222\n");
        Path got = HuggingFaceModels.resolve("acme/tiny-llama", env(Map.of("HF_HUB_CACHE", root.toString())), tmp);
        assertEquals(wanted, got);
    }

    @Test
    void theOnlySnapshotServesWithoutRefs() throws IOException {
        Path root = tmp.resolve("hfhome/hub");
        Path only = snapshot(root, "models--acme--m", "abcd");
        assertEquals(only, HuggingFaceModels.resolve("acme/m", env(Map.of("HF_HOME", tmp.resolve("hfhome").toString())), tmp));
    }

    @Test
    void cacheRootPrecedence() {
        Path home = tmp.resolve("home");
        assertEquals(Path.of("/a"), HuggingFaceModels.cacheRoot(env(Map.of("HF_HUB_CACHE", "/a", "HF_HOME", "/b")), home));
        assertEquals(Path.of("/b/hub"), HuggingFaceModels.cacheRoot(env(Map.of("HF_HOME", "/b")), home));
        assertEquals(home.resolve(".cache/huggingface/hub"), HuggingFaceModels.cacheRoot(env(Map.of()), home));
    }

    @Test
    void defaultRootIsUnderHome() throws IOException {
        Path home = tmp.resolve("home");
        Path only = snapshot(home.resolve(".cache/huggingface/hub"), "models--org--name", "r1");
        assertEquals(only, HuggingFaceModels.resolve("org/name", env(Map.of()), home));
    }

    @Test
    void anExistingDirectoryWinsOverTheCache() throws IOException {
        Path local = Files.createDirectories(tmp.resolve("org/name"));
        String asGiven = local.toString();
        assertEquals(local, HuggingFaceModels.resolve(asGiven, env(Map.of("HF_HUB_CACHE", tmp.resolve("none").toString())), tmp));
    }

    @Test
    void missingIdListsEveryPlaceLookedIn() {
        Path root = tmp.resolve("empty-hub");
        ModelNotFoundException e = assertThrows(ModelNotFoundException.class,
                () -> HuggingFaceModels.resolve("acme/absent", env(Map.of("HF_HUB_CACHE", root.toString())), tmp));
        String m = e.getMessage();
        assertTrue(m.contains(Path.of("acme/absent").toAbsolutePath().toString()), m);
        assertTrue(m.contains(root.resolve("models--acme--absent/refs/main").toString()), m);
        assertTrue(m.contains(root.resolve("models--acme--absent/snapshots").toString()), m);
        assertTrue(m.contains("HF_HUB_CACHE"), m);
        assertTrue(m.contains("hf download acme/absent"), m);
    }

    @Test
    void severalSnapshotsWithoutRefsAreNamed() throws IOException {
        Path root = tmp.resolve("hub");
        snapshot(root, "models--acme--two", "aaaa");
        snapshot(root, "models--acme--two", "bbbb");
        ModelNotFoundException e = assertThrows(ModelNotFoundException.class,
                () -> HuggingFaceModels.resolve("acme/two", env(Map.of("HF_HUB_CACHE", root.toString())), tmp));
        assertTrue(e.getMessage().contains("[aaaa, bbbb]"), e.getMessage());
    }

    @Test
    void staleRefFallsBackToTheOnlySnapshotElseSaysSo() throws IOException {
        Path root = tmp.resolve("hub");
        Path only = snapshot(root, "models--acme--r", "cccc");
        Files.createDirectories(root.resolve("models--acme--r/refs"));
        Files.writeString(root.resolve("models--acme--r/refs/main"), "dddd");
        assertEquals(only, HuggingFaceModels.resolve("acme/r", env(Map.of("HF_HUB_CACHE", root.toString())), tmp));
    }

    @Test
    void neitherDirectoryNorIdSaysWhichFormsAreAccepted() {
        ModelNotFoundException e = assertThrows(ModelNotFoundException.class,
                () -> HuggingFaceModels.resolve(tmp.resolve("no/such/dir").toString(), env(Map.of()), tmp));
        assertTrue(e.getMessage().contains("org/name"), e.getMessage());
        assertThrows(ModelNotFoundException.class, () -> HuggingFaceModels.resolve(" ", env(Map.of()), tmp));
        assertThrows(ModelNotFoundException.class, () -> HuggingFaceModels.resolve(null, env(Map.of()), tmp));
    }

    @Test
    void builderRefusesAnIdNotInTheCache() {
        // the builder resolves at once: an absent id fails in model(String), before build()
        assertThrows(ModelNotFoundException.class, () -> LLM.builder().model("acme/surely-not-cached-" + System.nanoTime()));
    }
}
