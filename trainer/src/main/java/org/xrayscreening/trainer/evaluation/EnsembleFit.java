package org.xrayscreening.trainer.evaluation;

import java.util.List;

/**
 * Ways to combine the models' P(COVID-19), each fit on the validation split only (issue 10 item 5):
 * <ul>
 *   <li>{@link Platt} scaling per model: P = sigmoid(a * logit(p) + b), so that one model's over-confidence does not
 *       dominate a mean (temperature scaling is the special case b = 0);
 *   <li>{@link Stacked}: a logistic regression on the models' logits, i.e. a weighted vote that learns how far to
 *       trust each model;
 *   <li>{@link Band}: an indeterminate band from validation whose lower edge keeps the flagged share (suspected or
 *       indeterminate) of COVID-19 images at the target sensitivity, and whose upper edge is where validation
 *       specificity reaches the target.
 * </ul>
 * Both fits are maximum likelihood by Newton's method with a small L2 penalty on the weights (not the bias), which
 * keeps them finite when validation is separable.
 */
public final class EnsembleFit {
    static final double EPS = 1e-6;
    static final double L2 = 1e-3;

    private EnsembleFit() {}

    static double logit(double p) {
        double q = Math.min(1 - EPS, Math.max(EPS, p));
        return Math.log(q / (1 - q));
    }

    static double sigmoid(double z) {
        return 1 / (1 + Math.exp(-z));
    }

    /** Platt scaling of one model. */
    public record Platt(double a, double b) {
        public static Platt fit(float[] p, boolean[] positive) {
            double[][] x = new double[p.length][1];
            for (int i = 0; i < p.length; i++) {
                x[i][0] = logit(p[i]);
            }
            double[] w = logistic(x, positive);
            return new Platt(w[0], w[1]);
        }

        public float[] apply(float[] p) {
            float[] out = new float[p.length];
            for (int i = 0; i < p.length; i++) {
                out[i] = (float) sigmoid(a * logit(p[i]) + b);
            }
            return out;
        }
    }

    /** Logistic regression on the models' logits (weights in model order). */
    public record Stacked(double[] weights, double bias) {
        public static Stacked fit(List<float[]> perModel, boolean[] positive) {
            double[][] x = features(perModel);
            double[] w = logistic(x, positive);
            return new Stacked(java.util.Arrays.copyOf(w, perModel.size()), w[perModel.size()]);
        }

        public float[] apply(List<float[]> perModel) {
            double[][] x = features(perModel);
            float[] out = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                double z = bias;
                for (int k = 0; k < weights.length; k++) {
                    z += weights[k] * x[i][k];
                }
                out[i] = (float) sigmoid(z);
            }
            return out;
        }

        private static double[][] features(List<float[]> perModel) {
            int n = perModel.get(0).length;
            double[][] x = new double[n][perModel.size()];
            for (int k = 0; k < perModel.size(); k++) {
                if (perModel.get(k).length != n) {
                    throw new IllegalArgumentException("models scored different numbers of images");
                }
                for (int i = 0; i < n; i++) {
                    x[i][k] = logit(perModel.get(k)[i]);
                }
            }
            return x;
        }
    }

    /**
     * An indeterminate band [low, high): below {@code low} NO_COVID_FINDINGS, from {@code high} COVID_SUSPECTED,
     * in between INDETERMINATE (a clinician looks). {@code low} is the highest threshold at which the flagged share
     * of validation COVID-19 images reaches the target sensitivity; {@code high} the lowest at which validation
     * specificity reaches its target (never below {@code low}: then there is no band).
     */
    public record Band(double low, double high) {
        public static Band choose(float[] validation, boolean[] positive, double targetSensitivity,
                double targetSpecificity) {
            double low = ThresholdChooser.forSensitivity(validation, positive, targetSensitivity);
            double high = Double.NaN;
            // RocCurve points run from the highest threshold down; the last one meeting the specificity target
            // is the lowest such threshold
            for (RocCurve.Point pt : RocCurve.of(validation, positive).points()) {
                if (Double.isFinite(pt.threshold()) && !Double.isNaN(pt.fpr()) && 1 - pt.fpr() >= targetSpecificity) {
                    high = pt.threshold();
                }
            }
            if (Double.isNaN(high) || high < low) {
                high = low;
            }
            return new Band(low, high);
        }

        /** The three-way outcome on scored images. */
        public Outcome apply(float[] scores, boolean[] positive) {
            long tpFlagged = 0;
            long covid = 0;
            long tnClear = 0;
            long other = 0;
            long indeterminate = 0;
            for (int i = 0; i < scores.length; i++) {
                boolean flagged = scores[i] >= low;
                if (flagged && scores[i] < high) {
                    indeterminate++;
                }
                if (positive[i]) {
                    covid++;
                    if (flagged) {
                        tpFlagged++;
                    }
                } else {
                    other++;
                    if (!flagged) {
                        tnClear++;
                    }
                }
            }
            return new Outcome(scores.length, indeterminate, covid == 0 ? Double.NaN : (double) tpFlagged / covid,
                    other == 0 ? Double.NaN : (double) tnClear / other);
        }
    }

    /**
     * @param sensitivity share of COVID-19 images flagged (suspected or indeterminate)
     * @param specificity share of the others called NO_COVID_FINDINGS
     */
    public record Outcome(int images, long indeterminate, double sensitivity, double specificity) {}

    /** Weights then bias, maximising the penalised log-likelihood (Newton-Raphson, at most 100 steps). */
    static double[] logistic(double[][] x, boolean[] y) {
        int n = x.length;
        int d = n == 0 ? 1 : x[0].length + 1;
        double[] w = new double[d];
        for (int iter = 0; iter < 100; iter++) {
            double[] grad = new double[d];
            double[][] hess = new double[d][d];
            for (int i = 0; i < n; i++) {
                double z = w[d - 1];
                for (int k = 0; k < d - 1; k++) {
                    z += w[k] * x[i][k];
                }
                double p = sigmoid(z);
                double r = p - (y[i] ? 1 : 0);
                double s = Math.max(p * (1 - p), 1e-12);
                for (int a = 0; a < d; a++) {
                    double xa = a == d - 1 ? 1 : x[i][a];
                    grad[a] += r * xa;
                    for (int b = 0; b < d; b++) {
                        double xb = b == d - 1 ? 1 : x[i][b];
                        hess[a][b] += s * xa * xb;
                    }
                }
            }
            for (int k = 0; k < d - 1; k++) {
                grad[k] += L2 * n * w[k];
                hess[k][k] += L2 * n;
            }
            hess[d - 1][d - 1] += 1e-9;
            double[] step = solve(hess, grad);
            double max = 0;
            for (int k = 0; k < d; k++) {
                w[k] -= step[k];
                max = Math.max(max, Math.abs(step[k]));
            }
            if (max < 1e-10) {
                break;
            }
        }
        return w;
    }

    /** Gaussian elimination with partial pivoting (d is the number of models + 1). */
    static double[] solve(double[][] a, double[] b) {
        int d = b.length;
        double[][] m = new double[d][d + 1];
        for (int i = 0; i < d; i++) {
            System.arraycopy(a[i], 0, m[i], 0, d);
            m[i][d] = b[i];
        }
        for (int c = 0; c < d; c++) {
            int piv = c;
            for (int r = c + 1; r < d; r++) {
                if (Math.abs(m[r][c]) > Math.abs(m[piv][c])) {
                    piv = r;
                }
            }
            double[] t = m[c];
            m[c] = m[piv];
            m[piv] = t;
            for (int r = c + 1; r < d; r++) {
                double f = m[r][c] / m[c][c];
                for (int k = c; k <= d; k++) {
                    m[r][k] -= f * m[c][k];
                }
            }
        }
        double[] x = new double[d];
        for (int r = d - 1; r >= 0; r--) {
            double s = m[r][d];
            for (int k = r + 1; k < d; k++) {
                s -= m[r][k] * x[k];
            }
            x[r] = s / m[r][r];
        }
        return x;
    }
}
