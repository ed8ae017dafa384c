package io.rocketkv.benchmarks.report;

import io.rocketkv.benchmarks.gpu.EndToEndReport;
import io.rocketkv.benchmarks.gpu.EndToEndReport.CapacityRow;
import io.rocketkv.benchmarks.gpu.EndToEndReport.StepRow;
import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The end-to-end PNGs of the GPU report, drawn from {@link EndToEndReport}: decode tokens/s of the whole model
 * vs batch (one solid line per algorithm and context, its byte floor dashed), and the most concurrent
 * sequences vs context per algorithm.
 */
public final class EndToEndPlots {

    public static final String TOKENS_VS_BATCH = "gpu-e2e-tokens-per-s-vs-batch.png";
    public static final String SEQUENCES_VS_CONTEXT = "gpu-e2e-max-sequences-vs-context.png";

    private static final Color[] COLOURS = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c),
            new Color(0x9467bd), new Color(0x8c564b), new Color(0xd62728)};

    private EndToEndPlots() {
    }

    /** Writes the two PNGs into {@code dir} and returns their paths. */
    public static List<Path> write(EndToEndReport r, Path dir) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Files.createDirectories(dir);
        String source = r.metadata().device() + ", " + r.metadata().date();
        return List.of(save(tokensChart(r, source), dir.resolve(TOKENS_VS_BATCH)),
                save(capacityChart(r, source), dir.resolve(SEQUENCES_VS_CONTEXT)));
    }

    private static XYChart chart(String title, String x, String y) {
        XYChart c = new XYChartBuilder().width(PerformancePlots.WIDTH).height(PerformancePlots.HEIGHT).title(title)
                .xAxisTitle(x).yAxisTitle(y).build();
        c.getStyler().setXAxisLogarithmic(true);
        c.getStyler().setYAxisLogarithmic(true);
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        c.getStyler().setChartTitleFont(c.getStyler().getChartTitleFont().deriveFont(13f));
        c.getStyler().setDecimalPattern("#,###.#");
        return c;
    }

    private static XYChart tokensChart(EndToEndReport r, String source) {
        XYChart c = chart("Decode tokens/s of the whole 8B-shaped model vs batch (" + source + ")", "batch",
                "tokens / s (dashed: byte floor)");
        Map<String, List<StepRow>> lines = new LinkedHashMap<>();
        r.step().stream().sorted(Comparator.comparing((StepRow s) -> !s.algo().isDense())
                        .thenComparingInt(StepRow::context).thenComparingInt(StepRow::batch))
                .forEach(s -> lines.computeIfAbsent(s.algo().label() + " " + s.context() / 1024 + "k",
                        k -> new ArrayList<>()).add(s));
        int i = 0;
        for (Map.Entry<String, List<StepRow>> e : lines.entrySet()) {
            Color colour = COLOURS[i++ % COLOURS.length];
            double[] x = e.getValue().stream().mapToDouble(StepRow::batch).toArray();
            add(c, e.getKey(), x, e.getValue().stream().mapToDouble(StepRow::tokensPerSecond).toArray(), colour, false);
            add(c, e.getKey() + " floor", x, e.getValue().stream().mapToDouble(StepRow::floorTokensPerSecond).toArray(),
                    colour, true);
        }
        if (lines.isEmpty()) {
            add(c, "no decode-step rows", new double[] {1, 2}, new double[] {1, 1}, Color.GRAY, true);
        }
        return c;
    }

    private static XYChart capacityChart(EndToEndReport r, String source) {
        XYChart c = chart("Most concurrent sequences in the KV pool vs context (" + source + ")", "context (tokens)",
                "sequences");
        Map<String, List<CapacityRow>> lines = new LinkedHashMap<>();
        r.capacity().stream().filter(x -> x.maxSequences() > 0)
                .sorted(Comparator.comparing((CapacityRow x) -> !x.algo().isDense()).thenComparingInt(CapacityRow::context))
                .forEach(x -> lines.computeIfAbsent(x.algo().label(), k -> new ArrayList<>()).add(x));
        int i = 0;
        for (Map.Entry<String, List<CapacityRow>> e : lines.entrySet()) {
            add(c, e.getKey(), e.getValue().stream().mapToDouble(CapacityRow::context).toArray(),
                    e.getValue().stream().mapToDouble(CapacityRow::maxSequences).toArray(), COLOURS[i++ % COLOURS.length],
                    false);
        }
        if (lines.isEmpty()) {
            add(c, "no capacity rows", new double[] {1, 2}, new double[] {1, 1}, Color.GRAY, true);
        }
        return c;
    }

    private static void add(XYChart c, String name, double[] x, double[] y, Color colour, boolean dashed) {
        XYSeries s = c.addSeries(name, x, y);
        s.setLineColor(colour);
        s.setMarkerColor(colour);
        s.setMarker(dashed ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
        if (dashed) {
            s.setLineStyle(SeriesLines.DASH_DASH);
        }
    }

    private static Path save(XYChart chart, Path file) throws IOException {
        try (OutputStream out = Files.newOutputStream(file)) {
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
        }
        return file;
    }
}
