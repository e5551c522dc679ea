package org.xrayscreening.trainer.evaluation;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import javax.imageio.ImageIO;
import org.xrayscreening.connectors.image.CanonicalImage;
import org.xrayscreening.connectors.image.ImageDecoder;
import org.xrayscreening.models.explain.Heatmap;
import org.xrayscreening.models.explain.HeatmapOverlay;
import org.xrayscreening.models.explain.HeatmapRegions;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.PreparedImages;

/**
 * Where one model looks, from its Grad-CAM maps ({@link org.xrayscreening.models.explain.GradCam}, through
 * {@link CovidClassifier#heatmapPreprocessed}, of exactly the inputs the evaluation scored): per image the share
 * of the map's mass inside the lung mask (when the dataset has one for the image), in the outer border band and
 * in the four corners ({@link HeatmapRegions}), their means over the evaluated images with patient-bootstrap
 * intervals, per source; and per source a gallery of the most confident correct and wrong cases.
 *
 * <p>Correct and wrong are taken at the model's own decision threshold. The cases of a gallery cell are the most
 * confident ones (true and false positives with the highest P(COVID-19), true and false negatives with the
 * lowest; ties by image name), so a rerun shows the same images and the false positives shown are the ones the
 * model was surest of. Nothing that names a patient or an image is drawn or stored: tiles carry the score only.
 */
public final class HeatmapReview {

    /** A gallery cell: the true label against the model's call. */
    public enum Cell {
        TP("true positive", "COVID-19, called COVID-19"),
        FN("false negative", "COVID-19, missed"),
        TN("true negative", "other, called other"),
        FP("false positive", "other, called COVID-19");

        private final String title;
        private final String meaning;

        Cell(String title, String meaning) {
            this.title = title;
            this.meaning = meaning;
        }

        public String title() {
            return title;
        }

        public String meaning() {
            return meaning;
        }

        static Cell of(boolean covid, boolean calledCovid) {
            return covid ? (calledCovid ? TP : FN) : (calledCovid ? FP : TN);
        }

        /** Positive calls are ranked by highest score first, negative calls by lowest first: most confident first. */
        boolean calledCovid() {
            return this == TP || this == FP;
        }
    }

    /** One gallery tile: the X-ray with its map over it and the model's P(COVID-19). */
    public record Tile(BufferedImage overlay, float score) {}

    /** The gallery of one source: up to K tiles per cell. */
    public record SourceGallery(String source, int images, Map<Cell, List<Tile>> cells, Map<Cell, Integer> counts) {}

    /**
     * Mean shares over a group of images with evidence: {@code lung} only over the {@code masked} ones that have a
     * lung mask (null when none has), intervals from the patient bootstrap (bounds NaN without one).
     */
    public record Shares(int images, int masked, Bootstrap.Interval lung, Bootstrap.Interval border,
            Bootstrap.Interval corner) {}

    /** Point means per source (NaN when undefined): over all its measured images, and over those called COVID-19. */
    public record SourceShares(String source, int images, int masked, double lung, double border, double corner,
            int called, double calledBorder, double calledCorner) {}

    /**
     * The model's numbers and galleries. {@code all}: every measured image; {@code calledCovid}: those the model
     * calls COVID-19 at its threshold, where the map is the evidence behind a positive recommendation (on a
     * confident negative the COVID-19 map is what little evidence there was, scaled up).
     */
    public record Result(String model, double threshold, double band, int evaluated, int withoutEvidence,
            Shares all, Shares calledCovid, List<SourceShares> perSource, List<SourceGallery> galleries) {}

    /**
     * @param galleryPerCell K: tiles per cell and source (0: no gallery)
     * @param maxImages at most this many images are measured (evenly spaced in name order, so every label and
     *     source keeps its share); 0 = all
     * @param tileSize the longer side of a gallery tile in pixels
     * @param band the border band and corner squares, as a fraction of each side
     * @param bootstrap the intervals' draws; null for point estimates only
     */
    public record Settings(int galleryPerCell, int maxImages, int tileSize, double band, Bootstrap bootstrap) {
        public Settings {
            if (galleryPerCell < 0 || maxImages < 0 || tileSize < 16) {
                throw new IllegalArgumentException("gallery size and image limit must be >= 0, tile size >= 16");
            }
        }
    }

    private static final String UNKNOWN_SOURCE = "(no source)";

    private HeatmapReview() {}

    /** Computes the maps, the shares and the galleries of one model; {@code log} gets progress lines. */
    public static Result review(CovidClassifier classifier, String model, PreparedImages images, float[] scores,
            double threshold, Settings settings, PrintStream log) throws IOException {
        if (scores.length != images.size()) {
            throw new IllegalArgumentException("scores and images differ in length");
        }
        int size = classifier.preprocessor().inputSize();
        int[] measuredIndex = spread(images.size(), settings.maxImages());
        boolean[] border = HeatmapRegions.border(size, size, settings.band());
        boolean[] corners = HeatmapRegions.corners(size, size, settings.band());
        List<DatasetEntry> measured = new ArrayList<>();
        List<Boolean> called = new ArrayList<>();
        List<Double> lung = new ArrayList<>();
        List<Double> borderShares = new ArrayList<>();
        List<Double> cornerShares = new ArrayList<>();
        int withoutEvidence = 0;
        long t0 = System.nanoTime();
        int step = Math.max(1, measuredIndex.length / 10);
        for (int n = 0; n < measuredIndex.length; n++) {
            int i = measuredIndex[n];
            DatasetEntry entry = images.entry(i);
            // read before looking at the map: a missing or broken mask fails the review even for an image whose
            // map has no evidence, instead of passing unnoticed until a model happens to look there
            BufferedImage mask = entry.lungMask() == null ? null : readMask(entry);
            Heatmap map = classifier.heatmapPreprocessed(images.input(i), size, size);
            if (map.isEmpty()) {
                withoutEvidence++; // no mass to share: counted, left out of the means
            } else {
                measured.add(entry);
                called.add(scores[i] >= threshold);
                borderShares.add(HeatmapRegions.shareInside(map, border));
                cornerShares.add(HeatmapRegions.shareInside(map, corners));
                lung.add(mask == null ? Double.NaN
                        : HeatmapRegions.shareInside(map, HeatmapRegions.maskAt(mask, size, size)));
            }
            if ((n + 1) % step == 0 || n + 1 == measuredIndex.length) {
                log.printf(Locale.ROOT, "%s: Grad-CAM %d/%d images (%.1f s)%n", model, n + 1, measuredIndex.length,
                        (System.nanoTime() - t0) / 1e9);
            }
        }
        List<Integer> everyImage = java.util.stream.IntStream.range(0, measured.size()).boxed().toList();
        List<Integer> calledImages = everyImage.stream().filter(called::get).toList();
        Shares all = shares(settings.bootstrap(), everyImage, measured, lung, borderShares, cornerShares);
        Shares calledCovid = shares(settings.bootstrap(), calledImages, measured, lung, borderShares, cornerShares);
        List<SourceShares> perSource = perSource(measured, called, borderShares, cornerShares, lung);

        List<SourceGallery> galleries = new ArrayList<>();
        if (settings.galleryPerCell() > 0) {
            ImageDecoder decoder = new ImageDecoder();
            for (Map.Entry<String, List<Integer>> source : bySource(images.entries()).entrySet()) {
                Map<Cell, List<Integer>> picked = pick(images.entries(), scores, threshold, source.getValue(),
                        settings.galleryPerCell());
                Map<Cell, List<Tile>> cells = new EnumMap<>(Cell.class);
                Map<Cell, Integer> counts = count(images.entries(), scores, threshold, source.getValue());
                for (Cell cell : Cell.values()) {
                    List<Tile> tiles = new ArrayList<>();
                    for (int i : picked.get(cell)) {
                        tiles.add(tile(classifier, decoder, images, i, scores[i], settings.tileSize()));
                    }
                    cells.put(cell, tiles);
                }
                galleries.add(new SourceGallery(source.getKey(), source.getValue().size(), cells, counts));
            }
        }
        return new Result(model, threshold, settings.band(), images.size(), withoutEvidence, all, calledCovid,
                perSource, galleries);
    }

    /**
     * Per cell the indices (among {@code candidates}) of the up to {@code k} most confident cases at
     * {@code threshold}: positive calls by descending score, negative calls by ascending score, ties by name.
     */
    public static Map<Cell, List<Integer>> pick(List<DatasetEntry> entries, float[] scores, double threshold,
            List<Integer> candidates, int k) {
        Map<Cell, List<Integer>> byCell = new EnumMap<>(Cell.class);
        for (Cell c : Cell.values()) {
            byCell.put(c, new ArrayList<>());
        }
        for (int i : candidates) {
            byCell.get(Cell.of(entries.get(i).label().isCovid(), scores[i] >= threshold)).add(i);
        }
        Map<Cell, List<Integer>> out = new EnumMap<>(Cell.class);
        byCell.forEach((cell, list) -> {
            Comparator<Integer> byScore = Comparator.comparingDouble(i -> scores[i]);
            Comparator<Integer> order = (cell.calledCovid() ? byScore.reversed() : byScore)
                    .thenComparing(i -> entries.get(i).name());
            out.put(cell, list.stream().sorted(order).limit(k).toList());
        });
        return out;
    }

    private static Map<Cell, Integer> count(List<DatasetEntry> entries, float[] scores, double threshold,
            List<Integer> candidates) {
        Map<Cell, Integer> counts = new EnumMap<>(Cell.class);
        for (Cell c : Cell.values()) {
            counts.put(c, 0);
        }
        for (int i : candidates) {
            counts.merge(Cell.of(entries.get(i).label().isCovid(), scores[i] >= threshold), 1, Integer::sum);
        }
        return counts;
    }

    /** Indices of the images of each source, sources sorted by name (images without a source under one key). */
    static Map<String, List<Integer>> bySource(List<DatasetEntry> entries) {
        Map<String, List<Integer>> out = new TreeMap<>();
        for (int i = 0; i < entries.size(); i++) {
            String source = entries.get(i).source() == null ? UNKNOWN_SOURCE : entries.get(i).source();
            out.computeIfAbsent(source, s -> new ArrayList<>()).add(i);
        }
        return out;
    }

    /** {@code limit} indices evenly spread over {@code 0..n-1} (all when {@code limit} is 0 or >= n). */
    static int[] spread(int n, int limit) {
        if (limit == 0 || limit >= n) {
            return java.util.stream.IntStream.range(0, n).toArray();
        }
        int[] out = new int[limit];
        for (int k = 0; k < limit; k++) {
            out[k] = (int) ((long) k * n / limit);
        }
        return out;
    }

    /** The lung mask of an image, or an error naming the image and the mask file. */
    public static BufferedImage readMask(DatasetEntry entry) throws IOException {
        Path mask = entry.lungMask();
        if (!Files.isRegularFile(mask)) {
            throw new IOException("lung mask of " + entry.name() + " not found: " + mask);
        }
        BufferedImage image;
        try {
            image = ImageIO.read(mask.toFile());
        } catch (IOException e) {
            throw new IOException("lung mask of " + entry.name() + " cannot be read (" + mask + "): " + e.getMessage(), e);
        }
        if (image == null) {
            throw new IOException("lung mask of " + entry.name() + " is not an image ImageIO can read (PNG expected): "
                    + mask);
        }
        return image;
    }

    private static Tile tile(CovidClassifier classifier, ImageDecoder decoder, PreparedImages images, int i,
            float score, int tileSize) throws IOException {
        DatasetEntry entry = images.entry(i);
        BufferedImage xray;
        try {
            byte[] bytes = Files.readAllBytes(entry.file());
            String sniffed = ImageDecoder.contentTypeOf(bytes);
            xray = CanonicalImage.toGray16(decoder.decode(bytes, sniffed != null ? sniffed
                    : PreparedImages.contentType(entry.name())), tileSize);
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            // it was decoded a moment ago for scoring; failing now means the file changed under the evaluation
            throw new IOException(entry.name() + ": cannot decode for the heatmap gallery (" + e.getMessage() + ")", e);
        }
        Heatmap map = classifier.heatmapPreprocessed(images.input(i), xray.getWidth(), xray.getHeight());
        return new Tile(HeatmapOverlay.render(xray, map), score);
    }

    private static List<SourceShares> perSource(List<DatasetEntry> measured, List<Boolean> called,
            List<Double> border, List<Double> corner, List<Double> lung) {
        Map<String, List<Integer>> groups = bySource(measured);
        List<SourceShares> out = new ArrayList<>();
        groups.forEach((source, idx) -> {
            List<Double> lungs = idx.stream().map(lung::get).filter(Double::isFinite).toList();
            List<Integer> calledIdx = idx.stream().filter(called::get).toList();
            out.add(new SourceShares(source, idx.size(), lungs.size(),
                    lungs.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN),
                    idx.stream().mapToDouble(border::get).average().orElse(Double.NaN),
                    idx.stream().mapToDouble(corner::get).average().orElse(Double.NaN), calledIdx.size(),
                    calledIdx.stream().mapToDouble(border::get).average().orElse(Double.NaN),
                    calledIdx.stream().mapToDouble(corner::get).average().orElse(Double.NaN)));
        });
        return out;
    }

    /** The shares of the measured images at {@code idx}. */
    private static Shares shares(Bootstrap bootstrap, List<Integer> idx, List<DatasetEntry> measured,
            List<Double> lung, List<Double> border, List<Double> corner) {
        List<DatasetEntry> entries = idx.stream().map(measured::get).toList();
        List<Integer> masked = idx.stream().filter(i -> Double.isFinite(lung.get(i))).toList();
        Bootstrap.Interval lungShare = masked.isEmpty() ? null : mean(bootstrap,
                masked.stream().map(measured::get).toList(), toFloats(masked.stream().map(lung::get).toList()));
        return new Shares(idx.size(), masked.size(), lungShare,
                mean(bootstrap, entries, toFloats(idx.stream().map(border::get).toList())),
                mean(bootstrap, entries, toFloats(idx.stream().map(corner::get).toList())));
    }

    /** The mean share, with a patient-bootstrap interval when {@code bootstrap} is given. */
    private static Bootstrap.Interval mean(Bootstrap bootstrap, List<DatasetEntry> entries, float[] shares) {
        if (shares.length == 0) {
            return Bootstrap.Interval.undefined(0);
        }
        Bootstrap.Statistic mean = (s, p) -> {
            double sum = 0;
            for (float v : s) {
                sum += v;
            }
            return s.length == 0 ? Double.NaN : sum / s.length;
        };
        if (bootstrap == null) {
            return new Bootstrap.Interval(mean.of(shares, null), Double.NaN, Double.NaN, 0, 0);
        }
        return bootstrap.interval(entries, shares, mean);
    }

    private static float[] toFloats(List<Double> values) {
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.get(i).floatValue();
        }
        return out;
    }
}
