package org.xrayscreening.trainer.evaluation;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.xrayscreening.trainer.dataset.DatasetEntry;

/**
 * The numbers the source cannot fake, for one model on one split: ROC AUC, sensitivity and specificity at the
 * model's own decision threshold with patient-level bootstrap 95% intervals, the same inside each data source
 * (AUC only where a source holds both labels: across sources a model can score well by recognising the
 * source), and calibration (reliability bins, ECE with its interval, Brier score).
 *
 * @param threshold the decision threshold the metrics are taken at
 * @param thresholdOrigin where it came from, e.g. "registry metadata" or "chosen on validation"
 */
public record ProtocolEvaluation(String name, int images, long covid, long nonCovid, double threshold,
        String thresholdOrigin, Bootstrap.Interval auc, Bootstrap.Interval sensitivity, Bootstrap.Interval specificity,
        Calibration calibration, Bootstrap.Interval ece, List<SourceProtocol> perSource) {

    /** One data source's images; an interval is undefined (NaN) where the source lacks the class it needs. */
    public record SourceProtocol(String source, int images, long covid, long nonCovid, Bootstrap.Interval auc,
            Bootstrap.Interval sensitivity, Bootstrap.Interval specificity, double meanScore) {
        public boolean hasBothLabels() {
            return covid > 0 && nonCovid > 0;
        }
    }

    public ProtocolEvaluation {
        perSource = List.copyOf(perSource);
    }

    public static ProtocolEvaluation of(ModelScores s, double threshold, String thresholdOrigin, Bootstrap bootstrap,
            int calibrationBins) {
        List<DatasetEntry> entries = s.entries();
        float[] scores = s.scores();
        boolean[] positive = ModelEvaluation.positives(entries);
        long covid = count(positive);
        Map<String, List<Integer>> bySource = new TreeMap<>();
        for (int i = 0; i < entries.size(); i++) {
            String src = entries.get(i).source();
            bySource.computeIfAbsent(src == null ? ModelEvaluation.UNKNOWN_SOURCE : src, k -> new ArrayList<>()).add(i);
        }
        List<SourceProtocol> perSource = new ArrayList<>();
        if (!(bySource.size() == 1 && bySource.containsKey(ModelEvaluation.UNKNOWN_SOURCE))) {
            bySource.forEach((src, idx) -> {
                List<DatasetEntry> e = new ArrayList<>(idx.size());
                float[] sc = new float[idx.size()];
                double sum = 0;
                for (int k = 0; k < idx.size(); k++) {
                    e.add(entries.get(idx.get(k)));
                    sc[k] = scores[idx.get(k)];
                    sum += sc[k];
                }
                long c = count(ModelEvaluation.positives(e));
                perSource.add(new SourceProtocol(src, idx.size(), c, idx.size() - c,
                        bootstrap.interval(e, sc, Bootstrap.auc()),
                        bootstrap.interval(e, sc, Bootstrap.sensitivityAt(threshold)),
                        bootstrap.interval(e, sc, Bootstrap.specificityAt(threshold)), sum / idx.size()));
            });
        }
        return new ProtocolEvaluation(s.name(), entries.size(), covid, entries.size() - covid, threshold,
                thresholdOrigin, bootstrap.interval(entries, scores, Bootstrap.auc()),
                bootstrap.interval(entries, scores, Bootstrap.sensitivityAt(threshold)),
                bootstrap.interval(entries, scores, Bootstrap.specificityAt(threshold)),
                Calibration.of(scores, positive, calibrationBins),
                bootstrap.interval(entries, scores, Calibration.ece(calibrationBins)), perSource);
    }

    private static long count(boolean[] b) {
        long n = 0;
        for (boolean x : b) {
            if (x) {
                n++;
            }
        }
        return n;
    }
}
