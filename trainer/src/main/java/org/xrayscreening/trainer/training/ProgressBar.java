package org.xrayscreening.trainer.training;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line text progress bar per epoch: {@code epoch 2/5 [=====>    ] 23/80 loss 0.4123 7.9 img/s}. On a
 * terminal it redraws in place; into a file (no console) it writes a line every tenth of the epoch, so logs
 * of background runs stay readable.
 */
public final class ProgressBar {
    private static final int WIDTH = 30;
    private final PrintStream out;
    private final boolean interactive;
    private final String label;
    private final int total;
    private int lastDecile = -1;

    public ProgressBar(PrintStream out, String label, int total) {
        this(out, label, total, System.console() != null);
    }

    ProgressBar(PrintStream out, String label, int total, boolean interactive) {
        this.out = out;
        this.label = label;
        this.total = Math.max(1, total);
        this.interactive = interactive;
    }

    public void update(int done, double loss, double imagesPerSecond) {
        String line = String.format(Locale.ROOT, "%s %s %d/%d loss %.4f %.1f img/s", label, bar(done), done, total,
                loss, imagesPerSecond);
        if (interactive) {
            out.print("\r" + line);
            out.flush();
        } else {
            int decile = done * 10 / total;
            if (decile != lastDecile || done == total) {
                lastDecile = decile;
                out.println(line);
            }
        }
    }

    /** Ends the bar's line with the epoch summary. */
    public void finish(String summary) {
        if (interactive) {
            out.println();
        }
        out.println(label + " " + summary);
        out.flush();
    }

    private String bar(int done) {
        int filled = (int) ((long) done * WIDTH / total);
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < WIDTH; i++) {
            sb.append(i < filled ? '=' : i == filled ? '>' : ' ');
        }
        return sb.append(']').toString();
    }
}
