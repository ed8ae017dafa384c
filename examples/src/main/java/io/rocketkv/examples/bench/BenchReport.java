package io.rocketkv.examples.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.core.kvcache.PrefixCacheStats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The figures of one measured run as JSON and as a table: requests/s, tokens/s, and percentiles (nearest rank) of
 * the time to first token (TTFT), the time per output token after the first (TPOT, one value per request), the
 * inter-token latency (ITL, every gap between two consecutive tokens or chunks of a request) and the end-to-end
 * latency (E2E, submission to the last token).
 */
public final class BenchReport {

    static final String[] LATENCIES = {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"};

    private BenchReport() {
    }

    /**
     * The figures of {@code timings} over {@code seconds}; {@code before}/{@code after} are the engine's prefix-cache
     * counters around the run (null over HTTP, where only the requests' cached-token counts are known).
     */
    public static ObjectNode of(List<Timing> timings, double seconds, PrefixCacheStats before, PrefixCacheStats after) {
        double[] ttft = new double[timings.size()];
        double[] tpot = new double[timings.size()];
        double[] e2e = new double[timings.size()];
        List<Double> itl = new ArrayList<>();
        long generated = 0;
        long prompt = 0;
        long cached = 0;
        for (int i = 0; i < timings.size(); i++) {
            Timing t = timings.get(i);
            ttft[i] = t.firstToken() / 1e6;
            tpot[i] = t.tpotNanos() / 1e6;
            e2e[i] = t.end() / 1e6;
            long[] times = t.tokenTimes();
            for (int j = 1; j < times.length; j++) {
                itl.add((times[j] - times[j - 1]) / 1e6);
            }
            generated += t.tokens();
            prompt += t.promptTokens();
            cached += t.cachedTokens();
        }
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("num_requests", timings.size());
        o.put("duration_s", seconds);
        o.put("requests_per_s", timings.size() / seconds);
        o.put("output_tokens_per_s", generated / seconds);
        o.put("total_tokens_per_s", (generated + prompt) / seconds);
        o.put("mean_input_tokens", timings.isEmpty() ? 0.0 : (double) prompt / timings.size());
        o.put("mean_output_tokens", timings.isEmpty() ? 0.0 : (double) generated / timings.size());
        // per request; at --concurrency 1 the engine's prefill rate (prompt tokens not served from the cache / mean
        // TTFT) and its decode rate (1 / mean TPOT), each on its own
        double meanTtft = Arrays.stream(ttft).average().orElse(0);
        double meanTpot = Arrays.stream(tpot).average().orElse(0);
        double prefilled = timings.isEmpty() ? 0.0 : (double) (prompt - cached) / timings.size();
        o.put("prefill_tokens_per_s", meanTtft > 0 ? prefilled * 1000 / meanTtft : 0);
        o.put("decode_tokens_per_s", meanTpot > 0 ? 1000 / meanTpot : 0);
        percentiles(o.putObject("ttft_ms"), ttft);
        percentiles(o.putObject("tpot_ms"), tpot);
        percentiles(o.putObject("itl_ms"), itl.stream().mapToDouble(Double::doubleValue).toArray());
        percentiles(o.putObject("e2e_ms"), e2e);
        ObjectNode pc = o.putObject("prefix_cache");
        if (before != null) {
            // the measured run only (the warm-up's lookups are before `before`); recomputes after preemption count too
            long queried = after.queriedTokens() - before.queriedTokens();
            long hits = after.hitTokens() - before.hitTokens();
            pc.put("queried_tokens", queried);
            pc.put("hit_tokens", hits);
            pc.put("hit_rate", queried == 0 ? 0.0 : (double) hits / queried);
            pc.put("evictions", after.evictions() - before.evictions());
        }
        pc.put("mean_cached_prompt_tokens", timings.isEmpty() ? 0.0 : (double) cached / timings.size());
        return o;
    }

    static void percentiles(ObjectNode o, double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        o.put("mean", Arrays.stream(v).average().orElse(0));
        o.put("p50", percentile(v, 50));
        o.put("p90", percentile(v, 90));
        o.put("p99", percentile(v, 99));
        o.put("max", v.length == 0 ? 0 : v[v.length - 1]);
    }

    /** Nearest-rank percentile of sorted values. */
    public static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int rank = (int) Math.ceil(p / 100 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    /** The table printed for one run; {@code title} is its first line. */
    public static String table(String title, ObjectNode r) {
        StringBuilder sb = new StringBuilder(title).append('\n');
        sb.append(String.format("%-22s %12.2f%n", "duration (s)", r.get("duration_s").asDouble()));
        sb.append(String.format("%-22s %12.2f%n", "requests/s", r.get("requests_per_s").asDouble()));
        sb.append(String.format("%-22s %12.1f%n", "output tokens/s", r.get("output_tokens_per_s").asDouble()));
        sb.append(String.format("%-22s %12.1f%n", "total tokens/s", r.get("total_tokens_per_s").asDouble()));
        sb.append(String.format("%-22s %12.1f   (prompt tokens not cached / mean TTFT)%n", "prefill tokens/s",
                r.get("prefill_tokens_per_s").asDouble()));
        sb.append(String.format("%-22s %12.1f   (1 / mean TPOT)%n", "decode tokens/s",
                r.get("decode_tokens_per_s").asDouble()));
        var pc = r.get("prefix_cache");
        if (pc.has("hit_rate")) {
            sb.append(String.format("%-22s %11.1f%% (%d of %d prompt tokens; %.1f per request)%n", "prefix-cache hits",
                    100 * pc.get("hit_rate").asDouble(), pc.get("hit_tokens").asLong(),
                    pc.get("queried_tokens").asLong(), pc.get("mean_cached_prompt_tokens").asDouble()));
        } else {
            sb.append(String.format("%-22s %12.1f%n", "cached prompt tokens", pc.get("mean_cached_prompt_tokens")
                    .asDouble()));
        }
        sb.append(String.format("%-10s %10s %10s %10s %10s %10s%n", "ms", "mean", "p50", "p90", "p99", "max"));
        for (String k : LATENCIES) {
            var p = r.get(k);
            sb.append(String.format("%-10s %10.3f %10.3f %10.3f %10.3f %10.3f%n", k.replace("_ms", ""),
                    p.get("mean").asDouble(), p.get("p50").asDouble(), p.get("p90").asDouble(), p.get("p99").asDouble(),
                    p.get("max").asDouble()));
        }
        return sb.toString();
    }
}
