package org.xrayscreening.trainer.evaluation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * The ROC curve of P(COVID-19) scores and its area. Points are taken at every distinct score (ties move
 * diagonally, as scikit-learn's {@code roc_curve}); the AUC is the trapezoidal area, which equals the
 * Mann-Whitney probability that a random positive scores above a random negative, ties counting one half.
 */
public final class RocCurve {
    /** One operating point: predict positive when score >= threshold. */
    public record Point(double threshold, double fpr, double tpr) {}

    private final List<Point> points;
    private final double auc;

    private RocCurve(List<Point> points, double auc) {
        this.points = List.copyOf(points);
        this.auc = auc;
    }

    public static RocCurve of(float[] scores, boolean[] positive) {
        int n = scores.length;
        long pos = 0;
        for (boolean p : positive) {
            if (p) {
                pos++;
            }
        }
        long neg = n - pos;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> scores[i]).reversed());
        List<Point> points = new ArrayList<>();
        points.add(new Point(Double.POSITIVE_INFINITY, 0, 0));
        long tp = 0;
        long fp = 0;
        double area = 0;
        double prevFpr = 0;
        double prevTpr = 0;
        int i = 0;
        while (i < n) {
            float s = scores[order[i]];
            while (i < n && scores[order[i]] == s) {
                if (positive[order[i]]) {
                    tp++;
                } else {
                    fp++;
                }
                i++;
            }
            double tpr = pos == 0 ? Double.NaN : (double) tp / pos;
            double fpr = neg == 0 ? Double.NaN : (double) fp / neg;
            area += (fpr - prevFpr) * (tpr + prevTpr) / 2;
            prevFpr = fpr;
            prevTpr = tpr;
            points.add(new Point(s, fpr, tpr));
        }
        return new RocCurve(points, pos == 0 || neg == 0 ? Double.NaN : area);
    }

    public List<Point> points() {
        return points;
    }

    /** Area under the curve; NaN when only one class is present. */
    public double auc() {
        return auc;
    }
}
