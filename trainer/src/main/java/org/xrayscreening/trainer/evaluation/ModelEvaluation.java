package org.xrayscreening.trainer.evaluation;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.xrayscreening.trainer.dataset.DatasetEntry;

/**
 * The numbers the report shows for one model: the paper's table at threshold 0.5 and at the threshold
 * chosen on validation for a target sensitivity, ROC AUC, and the same per data source.
 */
public record ModelEvaluation(
        String name,
        int images,
        ConfusionMatrix atHalf,
        double chosenThreshold,
        double targetSensitivity,
        ConfusionMatrix atChosen,
        double auc,
        RocCurve roc,
        Map<String, SourceMetrics> perSource,
        String note) {

    /** One data source's share of the evaluated images. */
    public record SourceMetrics(String source, int images, long covid, long nonCovid, ConfusionMatrix atHalf,
            ConfusionMatrix atChosen, double auc, double meanScore) {}

    public static final String UNKNOWN_SOURCE = "(unknown)";

    public static ModelEvaluation of(ModelScores s, double targetSensitivity) {
        boolean[] positive = positives(s.entries());
        boolean[] validationPositive = positives(s.validationEntries());
        double threshold = ThresholdChooser.forSensitivity(s.validationScores(), validationPositive, targetSensitivity);
        RocCurve roc = RocCurve.of(s.scores(), positive);
        Map<String, List<Integer>> bySource = new TreeMap<>();
        for (int i = 0; i < s.entries().size(); i++) {
            String src = s.entries().get(i).source();
            bySource.computeIfAbsent(src == null ? UNKNOWN_SOURCE : src, k -> new ArrayList<>()).add(i);
        }
        Map<String, SourceMetrics> perSource = new LinkedHashMap<>();
        if (!(bySource.size() == 1 && bySource.containsKey(UNKNOWN_SOURCE))) {
            bySource.forEach((src, idx) -> {
                float[] sc = new float[idx.size()];
                boolean[] pos = new boolean[idx.size()];
                double sum = 0;
                long covid = 0;
                for (int k = 0; k < idx.size(); k++) {
                    sc[k] = s.scores()[idx.get(k)];
                    pos[k] = positive[idx.get(k)];
                    sum += sc[k];
                    if (pos[k]) {
                        covid++;
                    }
                }
                perSource.put(src, new SourceMetrics(src, idx.size(), covid, idx.size() - covid,
                        ConfusionMatrix.at(sc, pos, 0.5), ConfusionMatrix.at(sc, pos, threshold),
                        RocCurve.of(sc, pos).auc(), sum / idx.size()));
            });
        }
        return new ModelEvaluation(s.name(), s.entries().size(), ConfusionMatrix.at(s.scores(), positive, 0.5), threshold,
                targetSensitivity, ConfusionMatrix.at(s.scores(), positive, threshold), roc.auc(), roc, perSource,
                s.note());
    }

    /** Mean probability of the models, image by image; all must cover the same images in the same order. */
    public static ModelScores ensemble(List<ModelScores> models) {
        ModelScores first = models.get(0);
        float[] scores = new float[first.scores().length];
        float[] validation = new float[first.validationScores().length];
        for (ModelScores m : models) {
            if (!m.entries().equals(first.entries()) || !m.validationEntries().equals(first.validationEntries())) {
                throw new IllegalArgumentException("models were scored on different images: " + m.name());
            }
            for (int i = 0; i < scores.length; i++) {
                scores[i] += m.scores()[i] / models.size();
            }
            for (int i = 0; i < validation.length; i++) {
                validation[i] += m.validationScores()[i] / models.size();
            }
        }
        return new ModelScores("ensemble (mean of " + models.size() + ")", first.entries(), scores,
                first.validationEntries(), validation, null);
    }

    static boolean[] positives(List<DatasetEntry> entries) {
        boolean[] p = new boolean[entries.size()];
        for (int i = 0; i < p.length; i++) {
            p[i] = entries.get(i).label().isCovid();
        }
        return p;
    }
}
