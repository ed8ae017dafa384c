package io.rocketkv.examples.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A {@link RetrievalEval.Result} as a Markdown table (one row per setting; per task × context the accuracy in %
 * and the token compression, e.g. {@code 96.0 (×8.0)}) and as JSON.
 */
public final class EvalReport {

    private EvalReport() {
    }

    public static String table(RetrievalEval.Result r) {
        StringBuilder sb = new StringBuilder("| setting |");
        StringBuilder rule = new StringBuilder("|---|");
        for (String task : r.options().tasks()) {
            for (int ctx : r.options().contexts()) {
                sb.append(' ').append(task).append(' ').append(ctx).append(" |");
                rule.append("---|");
            }
        }
        sb.append('\n').append(rule).append('\n');
        for (EvalSetting s : r.settings()) {
            sb.append("| ").append(s.name()).append(" |");
            for (RetrievalEval.Cell c : r.cells()) {
                if (c.setting().equals(s)) {
                    sb.append(String.format(Locale.ROOT, " %.1f (×%.1f) |", 100 * c.accuracy(), c.tokenCompression()));
                }
            }
            sb.append('\n');
        }
        sb.append(String.format(Locale.ROOT,
                "accuracy %% over %d cases per cell (exact match, greedy); (×N) = KV tokens dense / kept, per KV head%n",
                r.options().cases()));
        return sb.toString();
    }

    public static ObjectNode json(RetrievalEval.Result r) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode o = m.createObjectNode();
        o.put("model", r.options().model().getFileName().toString());
        o.put("seed", r.options().seed());
        o.put("cases_per_cell", r.options().cases());
        o.put("max_new_tokens", r.options().maxNewTokens());
        r.options().tasks().forEach(o.putArray("tasks")::add);
        r.options().contexts().forEach(o.putArray("contexts")::add);
        ArrayNode settings = o.putArray("settings");
        for (EvalSetting s : r.settings()) {
            ObjectNode j = settings.addObject();
            j.put("name", s.name());
            j.put("kind", s.kind());
            if (s.sparse() != null) {
                j.put("window_size", s.sparse().windowSize());
                j.put("kernel_size", s.sparse().kernelSize());
                j.put("prompt_budget", s.sparse().promptBudget());
                j.put("topk", s.sparse().topk());
                j.put("topr", s.sparse().topr());
                j.put("page_size", s.sparse().pageSize());
                j.put("kt_cache_dtype", s.sparse().ktCacheDtype().yamlName());
                j.put("stage1_policy", s.policy().label());
            }
        }
        ArrayNode cells = o.putArray("results");
        for (RetrievalEval.Cell c : r.cells()) {
            ObjectNode j = cells.addObject();
            j.put("task", c.task());
            j.put("context", c.context());
            j.put("setting", c.setting().name());
            j.put("backend", c.backend());
            j.put("cases", c.cases());
            j.put("correct", c.correct());
            j.put("accuracy", c.accuracy());
            j.put("mean_prompt_tokens", c.meanPromptTokens());
            j.put("token_compression", c.tokenCompression());
            j.put("memory_compression", c.memoryCompression());
        }
        return o;
    }

    public static void writeJson(RetrievalEval.Result r, Path file) throws IOException {
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), json(r));
    }
}
