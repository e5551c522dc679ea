package org.xrayscreening.trainer.report;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.evaluation.Bootstrap;
import org.xrayscreening.trainer.evaluation.HeatmapReview;
import org.xrayscreening.trainer.evaluation.HeatmapReview.Cell;
import org.xrayscreening.trainer.evaluation.HeatmapReview.Result;
import org.xrayscreening.trainer.evaluation.HeatmapReview.SourceGallery;
import org.xrayscreening.trainer.evaluation.HeatmapReview.SourceShares;
import org.xrayscreening.trainer.evaluation.HeatmapReview.Tile;

/**
 * Adds the heatmap review to an evaluation run folder: per model and source a gallery PNG
 * ({@code <model>-gallery-<source>.png}: one row per cell TP, FN, TN, FP, up to K tiles each, the X-ray with the
 * Grad-CAM map over it and P(COVID-19) under it), a section "Where the models look" in report.md that links them,
 * and a {@code heatmaps} entry in metrics.json.
 */
public final class HeatmapGallery {
    private static final int LABEL_WIDTH = 170;
    private static final int HEADER = 44;
    private static final int CAPTION = 18;
    private static final int GAP = 6;
    private static final int EMPTY_ROW = 58;

    private HeatmapGallery() {}

    /** The gallery file name of a model and source (neither names a patient). */
    public static String fileName(String model, String source) {
        return EvaluationReport.slug(model) + "-gallery-" + EvaluationReport.slug(source) + ".png";
    }

    /** Writes the galleries, appends the section to report.md and the numbers to metrics.json. */
    public static void write(Path dir, List<Result> results) throws IOException {
        if (results.isEmpty()) {
            return;
        }
        for (Result r : results) {
            for (SourceGallery g : r.galleries()) {
                ImageIO.write(render(r, g), "png", dir.resolve(fileName(r.model(), g.source())).toFile());
            }
        }
        Files.writeString(dir.resolve("report.md"), "\n" + markdown(results), StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
        Path metrics = dir.resolve("metrics.json");
        ObjectNode json = Files.isRegularFile(metrics) ? (ObjectNode) Json.MAPPER.readTree(metrics.toFile())
                : Json.MAPPER.createObjectNode();
        json.set("heatmaps", Json.MAPPER.valueToTree(json(results)));
        Json.write(metrics, json);
    }

    /** One gallery: a header, then a row per cell with its label and up to K tiles. */
    static BufferedImage render(Result r, SourceGallery g) {
        int k = Math.max(1, g.cells().values().stream().mapToInt(List::size).max().orElse(1));
        int tile = g.cells().values().stream().flatMap(List::stream)
                .mapToInt(t -> Math.max(t.overlay().getWidth(), t.overlay().getHeight())).max().orElse(64);
        int width = LABEL_WIDTH + k * (tile + GAP) + GAP;
        int rowHeight = tile + CAPTION + GAP;
        int height = HEADER + GAP;
        for (Cell cell : Cell.values()) {
            height += rowHeight(g, cell, rowHeight);
        }
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g2 = out.createGraphics();
        try {
            g2.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g2.setColor(Color.WHITE);
            g2.fillRect(0, 0, width, height);
            g2.setColor(Color.BLACK);
            g2.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
            g2.drawString(r.model() + "  -  " + g.source(), GAP, 17);
            g2.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            g2.drawString(String.format(Locale.ROOT, "%d images; threshold %.3f (the model's own); most confident"
                    + " cases per cell; Grad-CAM of COVID-19", g.images(), r.threshold()), GAP, 35);
            int y = HEADER;
            for (Cell cell : Cell.values()) {
                g2.setColor(Color.BLACK);
                g2.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 12));
                g2.drawString(cell.name() + " " + cell.title(), GAP, y + 16);
                g2.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
                g2.drawString(cell.meaning(), GAP, y + 32);
                int count = g.counts().get(cell);
                g2.drawString(count + (count == 1 ? " image" : " images"), GAP, y + 48);
                List<Tile> tiles = g.cells().get(cell);
                if (tiles.isEmpty()) {
                    g2.setColor(Color.GRAY);
                    g2.drawString("none", LABEL_WIDTH, y + 16);
                }
                for (int c = 0; c < tiles.size(); c++) {
                    Tile t = tiles.get(c);
                    int x0 = LABEL_WIDTH + c * (tile + GAP);
                    g2.setColor(Color.DARK_GRAY);
                    g2.fillRect(x0, y, tile, tile);
                    g2.drawImage(t.overlay(), x0 + (tile - t.overlay().getWidth()) / 2,
                            y + (tile - t.overlay().getHeight()) / 2, null);
                    g2.setColor(Color.BLACK);
                    g2.drawString(String.format(Locale.ROOT, "P(COVID-19) %.3f", t.score()), x0 + 2, y + tile + 13);
                }
                y += rowHeight(g, cell, rowHeight);
            }
        } finally {
            g2.dispose();
        }
        return out;
    }

    /** A cell without cases gets only the height of its label. */
    private static int rowHeight(SourceGallery g, Cell cell, int full) {
        return g.cells().get(cell).isEmpty() ? EMPTY_ROW : full;
    }

    /** The report section: what was measured, the shares per model and per source, the gallery links. */
    public static String markdown(List<Result> results) {
        Result first = results.get(0);
        double band = first.band();
        StringBuilder sb = new StringBuilder("## Where the models look (Grad-CAM)\n\n");
        sb.append(String.format(Locale.ROOT, "Share of each model's Grad-CAM mass (COVID-19 class, the map scaled to the"
                + " network's input) inside the lung mask, in the outer border band (%.1f%% of each side) and in the four"
                + " corner squares (%.1f%% of each side), averaged over images. A map spread evenly would put %.3f in"
                + " the band and %.3f in the corners; text markers, collimation edges and labels sit there, lungs"
                + " mostly do not. Maps without any positive evidence are left out. Intervals: 95%% patient bootstrap"
                + " with the protocol's draws (none with --bootstrap 0).%n%n", 100 * band, 100 * band, 1 - Math.pow(1 - 2 * band, 2), 4 * band * band));
        sb.append("\"Called COVID-19\": only the images the model calls COVID-19 at its threshold, where the map is"
                + " the evidence behind a positive recommendation; on a confident negative the COVID-19 map is the"
                + " little evidence there was, scaled up.\n\n");
        sb.append("| model | images | measured (no evidence) | lung share | border share | corner share |"
                + " called COVID-19 | lung share | border share | corner share |\n"
                + "| --- | ---: | ---: | --- | --- | --- | ---: | --- | --- | --- |\n");
        for (Result r : results) {
            sb.append(String.format(Locale.ROOT, "| %s | %d | %d (%d) | %s | %s | %s | %d | %s | %s | %s |%n",
                    r.model(), r.evaluated(), r.all().images(), r.withoutEvidence(), lung(r.all()),
                    EvaluationReport.ci(r.all().border()), EvaluationReport.ci(r.all().corner()),
                    r.calledCovid().images(), lung(r.calledCovid()), EvaluationReport.ci(r.calledCovid().border()),
                    EvaluationReport.ci(r.calledCovid().corner())));
        }
        if (results.stream().allMatch(r -> r.all().lung() == null)) {
            sb.append("\nThis dataset has no lung masks (manifest column `lung_mask`), so the lung share is not"
                    + " measured; the border and corner shares need none.\n");
        }
        sb.append("\n### Per source\n\n| model | source | images measured | lung share (with mask) | border share |"
                + " corner share | called COVID-19 | border share | corner share |\n"
                + "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (Result r : results) {
            for (SourceShares s : r.perSource()) {
                sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %s | %s | %s | %d | %s | %s |%n", r.model(),
                        s.source(), s.images(),
                        s.masked() == 0 ? "no masks" : EvaluationReport.f(s.lung()) + " (" + s.masked() + ")",
                        EvaluationReport.f(s.border()), EvaluationReport.f(s.corner()), s.called(),
                        EvaluationReport.f(s.calledBorder()), EvaluationReport.f(s.calledCorner())));
            }
        }
        if (results.stream().anyMatch(r -> !r.galleries().isEmpty())) {
            sb.append("\n### Galleries\n\nPer source, the most confident true and false positives and negatives at"
                    + " the model's threshold, with the map over the X-ray (red: most evidence for COVID-19).\n\n");
            for (Result r : results) {
                for (SourceGallery g : r.galleries()) {
                    String file = fileName(r.model(), g.source());
                    sb.append("- ").append(r.model()).append(", ").append(g.source()).append(": [").append(file)
                            .append("](").append(file).append(")\n");
                }
            }
        }
        return sb.toString();
    }

    private static List<Map<String, Object>> json(List<Result> results) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Result r : results) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model", r.model());
            m.put("threshold", r.threshold());
            m.put("band", r.band());
            m.put("imagesEvaluated", r.evaluated());
            m.put("imagesWithoutEvidence", r.withoutEvidence());
            m.put("all", shares(r.all()));
            m.put("calledCovid", shares(r.calledCovid()));
            List<Map<String, Object>> sources = new ArrayList<>();
            for (SourceShares s : r.perSource()) {
                Map<String, Object> sm = new LinkedHashMap<>();
                sm.put("source", s.source());
                sm.put("images", s.images());
                sm.put("imagesWithLungMask", s.masked());
                sm.put("lungShare", finite(s.lung()));
                sm.put("borderShare", finite(s.border()));
                sm.put("cornerShare", finite(s.corner()));
                sm.put("calledCovid", s.called());
                sm.put("calledCovidBorderShare", finite(s.calledBorder()));
                sm.put("calledCovidCornerShare", finite(s.calledCorner()));
                sources.add(sm);
            }
            m.put("perSource", sources);
            Map<String, Object> galleries = new LinkedHashMap<>();
            for (SourceGallery g : r.galleries()) {
                Map<String, Object> gm = new LinkedHashMap<>();
                gm.put("file", fileName(r.model(), g.source()));
                Map<String, Object> cells = new LinkedHashMap<>();
                for (Cell c : Cell.values()) {
                    Map<String, Object> cell = new LinkedHashMap<>();
                    cell.put("images", g.counts().get(c));
                    cell.put("shown", g.cells().get(c).size());
                    cells.put(c.name(), cell);
                }
                gm.put("cells", cells);
                galleries.put(g.source(), gm);
            }
            m.put("galleries", galleries);
            out.add(m);
        }
        return out;
    }

    private static String lung(HeatmapReview.Shares s) {
        return s.lung() == null ? "no masks" : EvaluationReport.ci(s.lung()) + " (" + s.masked() + ")";
    }

    private static Map<String, Object> shares(HeatmapReview.Shares s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("images", s.images());
        m.put("imagesWithLungMask", s.masked());
        m.put("lungShare", s.lung() == null ? null : interval(s.lung()));
        m.put("borderShare", interval(s.border()));
        m.put("cornerShare", interval(s.corner()));
        return m;
    }

    private static Map<String, Object> interval(Bootstrap.Interval i) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("estimate", finite(i.estimate()));
        m.put("low", finite(i.low()));
        m.put("high", finite(i.high()));
        m.put("replicates", i.replicates());
        return m;
    }

    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }
}
