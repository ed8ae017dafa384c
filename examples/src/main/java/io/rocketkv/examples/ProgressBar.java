package io.rocketkv.examples;

import io.rocketkv.core.model.LoadProgress;
import java.io.PrintStream;

/** A one-line text progress bar on standard error, redrawn when the percentage changes. */
final class ProgressBar implements LoadProgress {

    private static final int WIDTH = 30;

    private final String label;
    private final PrintStream out = System.err;
    private int lastPercent = -1;

    ProgressBar(String label) {
        this.label = label;
    }

    @Override
    public void loaded(String tensor, long done, long total) {
        int percent = total == 0 ? 100 : (int) (100 * done / total);
        if (percent == lastPercent) {
            return;
        }
        lastPercent = percent;
        int filled = percent * WIDTH / 100;
        out.printf("\r%s [%s%s] %3d%% %,.1f/%,.1f MB", label, "#".repeat(filled), " ".repeat(WIDTH - filled), percent,
                done / 1e6, total / 1e6);
        out.flush();
    }
}
