package org.xrayscreening.trainer.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.annotations.XYTextAnnotation;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.LookupPaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.DefaultXYZDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.xrayscreening.trainer.evaluation.Calibration;
import org.xrayscreening.trainer.evaluation.ConfusionMatrix;
import org.xrayscreening.trainer.evaluation.RocCurve;

/** The report's PNGs, drawn with JFreeChart (headless). */
public final class Charts {
    private static final int SIZE = 420;

    private Charts() {}

    /** ROC curves (one per entry) with the chance diagonal. */
    public static void roc(Path file, String title, List<String> names, List<RocCurve> curves) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        for (int i = 0; i < curves.size(); i++) {
            XYSeries series = new XYSeries(String.format(Locale.ROOT, "%s (AUC %.3f)", names.get(i), curves.get(i).auc()),
                    false, true);
            for (RocCurve.Point p : curves.get(i).points()) {
                series.add(p.fpr(), p.tpr());
            }
            data.addSeries(series);
        }
        unitSquare(file, title, "false positive rate (1 - specificity)", "true positive rate (sensitivity)", data,
                "chance", false);
    }

    /**
     * Reliability diagram: per model, each non-empty score bin as a point at (mean P(COVID-19), observed share of
     * COVID-19 images); a calibrated model lies on the diagonal. The legend gives each model's ECE.
     */
    public static void reliability(Path file, String title, List<String> names, List<Calibration> calibrations)
            throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        for (int i = 0; i < calibrations.size(); i++) {
            Calibration c = calibrations.get(i);
            XYSeries series = new XYSeries(String.format(Locale.ROOT, "%s (ECE %.3f)", names.get(i),
                    c.expectedCalibrationError()), false, true);
            for (Calibration.Bin b : c.bins()) {
                series.add(b.meanScore(), b.observedRate());
            }
            data.addSeries(series);
        }
        unitSquare(file, title, "mean predicted P(COVID-19) in the bin", "observed share of COVID-19 images", data,
                "perfectly calibrated", true);
    }

    /**
     * Curves over [0, 1] x [0, 1] with the diagonal as the reference (chance for ROC, perfect calibration for a
     * reliability diagram): the diagonal is added last, grey and dashed; the curves are drawn 2 px wide, with a
     * marker per point when {@code markers} (reliability bins are few and each one is a measurement).
     */
    private static void unitSquare(Path file, String title, String xLabel, String yLabel, XYSeriesCollection data,
                                   String diagonalName, boolean markers) throws IOException {
        XYSeries diagonal = new XYSeries(diagonalName, false, true);
        diagonal.add(0, 0);
        diagonal.add(1, 1);
        data.addSeries(diagonal);
        JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL, true,
                false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, markers);
        plot.setRenderer(renderer);
        int last = data.getSeriesCount() - 1;
        renderer.setSeriesPaint(last, Color.GRAY);
        renderer.setSeriesShapesVisible(last, false);
        renderer.setSeriesStroke(last, new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
                new float[] {4f, 4f}, 0f));
        for (int i = 0; i < last; i++) {
            renderer.setSeriesStroke(i, new BasicStroke(2f));
        }
        ((NumberAxis) plot.getDomainAxis()).setRange(0, 1);
        ((NumberAxis) plot.getRangeAxis()).setRange(0, 1.01);
        chart.setBackgroundPaint(Color.WHITE);
        chart.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
        ChartUtils.saveChartAsPNG(file.toFile(), chart, SIZE + 80, SIZE);
    }

    /**
     * Point estimates with their intervals, one column per category (e.g. the arms of an ablation), one colour per
     * series, the series of a column side by side; the y axis spans [0, 1] (rates and AUCs).
     */
    public static void intervals(Path file, String title, List<String> categories,
            java.util.Map<String, List<org.xrayscreening.trainer.evaluation.Bootstrap.Interval>> series, String yLabel)
            throws IOException {
        intervals(file, title, categories, series, yLabel, 0, 1.02, Double.NaN);
    }

    /** As above, on the y range [yLow, yHigh], with a dashed horizontal reference line at {@code reference} (NaN: none). */
    public static void intervals(Path file, String title, List<String> categories,
            java.util.Map<String, List<org.xrayscreening.trainer.evaluation.Bootstrap.Interval>> series, String yLabel,
            double yLow, double yHigh, double reference) throws IOException {
        org.jfree.data.xy.YIntervalSeriesCollection data = new org.jfree.data.xy.YIntervalSeriesCollection();
        int s = 0;
        int count = series.size();
        for (var e : series.entrySet()) {
            org.jfree.data.xy.YIntervalSeries ys = new org.jfree.data.xy.YIntervalSeries(e.getKey(), false, true);
            double offset = count == 1 ? 0 : (s - (count - 1) / 2.0) * 0.18;
            for (int c = 0; c < categories.size(); c++) {
                var i = e.getValue().get(c);
                if (i != null && Double.isFinite(i.estimate())) {
                    double low = Double.isFinite(i.low()) ? i.low() : i.estimate();
                    double high = Double.isFinite(i.high()) ? i.high() : i.estimate();
                    ys.add(c + offset, i.estimate(), low, high);
                }
            }
            data.addSeries(ys);
            s++;
        }
        SymbolAxis xAxis = new SymbolAxis(null, categories.toArray(new String[0]));
        xAxis.setGridBandsVisible(false);
        xAxis.setRange(-0.5, categories.size() - 0.5);
        NumberAxis yAxis = new NumberAxis(yLabel);
        yAxis.setRange(yLow, yHigh);
        org.jfree.chart.renderer.xy.XYErrorRenderer renderer = new org.jfree.chart.renderer.xy.XYErrorRenderer();
        renderer.setDrawXError(false);
        renderer.setDrawYError(true);
        renderer.setDefaultLinesVisible(false);
        renderer.setDefaultShapesVisible(true);
        renderer.setErrorStroke(new BasicStroke(2f));
        renderer.setCapLength(6);
        XYPlot plot = new XYPlot(data, xAxis, yAxis, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinesVisible(false);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        if (Double.isFinite(reference)) {
            org.jfree.chart.plot.ValueMarker marker = new org.jfree.chart.plot.ValueMarker(reference, Color.GRAY,
                    new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {4f, 4f}, 0f));
            plot.addRangeMarker(marker);
        }
        JFreeChart chart = new JFreeChart(title, new Font(Font.SANS_SERIF, Font.BOLD, 13), plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, Math.max(SIZE + 80, 110 * categories.size() + 120), SIZE);
    }

    /**
     * A 2x2 confusion matrix: rows = true class, columns = predicted class, COVID-19 first; cells shaded by
     * their share of the row (so per-class recall is visible) and labelled with the count.
     */
    public static void confusionMatrix(Path file, String title, ConfusionMatrix cm) throws IOException {
        // x = predicted (0 covid, 1 non-covid), y = true (1 covid at top, 0 non-covid)
        double[][] xyz = new double[3][4];
        long[][] counts = {{cm.tp(), cm.fn()}, {cm.fp(), cm.tn()}}; // [true][predicted]
        int k = 0;
        for (int t = 0; t < 2; t++) {
            long row = counts[t][0] + counts[t][1];
            for (int pr = 0; pr < 2; pr++) {
                xyz[0][k] = pr;
                xyz[1][k] = 1 - t;
                xyz[2][k] = row == 0 ? 0 : (double) counts[t][pr] / row;
                k++;
            }
        }
        DefaultXYZDataset data = new DefaultXYZDataset();
        data.addSeries("cm", xyz);
        SymbolAxis xAxis = new SymbolAxis("predicted", new String[] {"covid", "non-covid"});
        SymbolAxis yAxis = new SymbolAxis("true", new String[] {"non-covid", "covid"});
        XYBlockRenderer renderer = new XYBlockRenderer();
        LookupPaintScale scale = new LookupPaintScale(0, 1.0001, Color.WHITE);
        for (int i = 0; i <= 10; i++) {
            float shade = 1f - 0.75f * i / 10f;
            scale.add(i / 10.0, new Color(shade, shade * 0.95f + 0.05f, 1f));
        }
        renderer.setPaintScale(scale);
        XYPlot plot = new XYPlot(data, xAxis, yAxis, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinesVisible(false);
        plot.setRangeGridlinesVisible(false);
        String[][] names = {{"TP", "FN"}, {"FP", "TN"}};
        for (int t = 0; t < 2; t++) {
            for (int pr = 0; pr < 2; pr++) {
                XYTextAnnotation a = new XYTextAnnotation(names[t][pr] + " " + counts[t][pr], pr, 1 - t);
                a.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
                plot.addAnnotation(a);
            }
        }
        JFreeChart chart = new JFreeChart(title, new Font(Font.SANS_SERIF, Font.BOLD, 13), plot, false);
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, SIZE, SIZE - 40);
    }
}
