package hyperlab.plot;

import hyperlab.manifold.Sinkhorn;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.markers.SeriesMarkers;
import tech.tablesaw.api.Table;

/** XChart views of what the papers plot; every method returns a chart that notebooks render inline. */
public final class Plots {
    private Plots() {}

    /** Max row and column deviation from 1 after each Sinkhorn iteration, on a log scale. */
    public static XYChart sinkhornConvergence(double[][] logits, int iterations) {
        Sinkhorn.Report r = Sinkhorn.converge(logits, iterations);
        XYChart c = lineChart("Sinkhorn-Knopp convergence (n = " + logits.length + ")", "iteration", "max |sum − 1|", true);
        double[] it = new double[iterations];
        for (int i = 0; i < iterations; i++) it[i] = i + 1;
        c.addSeries("columns", it, floor(r.columnError()));
        c.addSeries("rows", it, floor(r.rowError()));
        return c;
    }

    /**
     * One line per run of a column of {@link hyperlab.diag.Gains} tables against the block index, on a
     * log scale: e.g. "composite fwd" for HC vs mHC vs sHC, the shape of mHC's Fig. 7.
     */
    public static XYChart gains(Map<String, Table> runs, String column) {
        XYChart c = lineChart("Amax gain magnitude: " + column, "block", column, true);
        runs.forEach((name, t) -> {
            double[] x = t.intColumn("block").asDoubleArray();
            c.addSeries(name, x, floor(t.doubleColumn(column).asDoubleArray())).setMarker(SeriesMarkers.CIRCLE);
        });
        return c;
    }

    /** One line per value of the table's "kind" column (e.g. {@code Gains.randomComposite}'s paradigms). */
    public static XYChart gains(Table t, String column) {
        Map<String, Table> runs = new java.util.LinkedHashMap<>();
        for (String kind : t.stringColumn("kind").unique().asList())
            runs.put(kind, t.where(t.stringColumn("kind").isEqualTo(kind)));
        return gains(runs, column);
    }

    /** A matrix such as H_res as a heat map, row 0 at the top as it is printed. */
    public static HeatMapChart heatMap(double[][] h, String title) {
        int n = h.length, m = h[0].length;
        HeatMapChart c = new HeatMapChartBuilder().width(420).height(360).title(title).xAxisTitle("column").yAxisTitle("row").build();
        List<Integer> xs = new ArrayList<>(), ys = new ArrayList<>();
        for (int j = 0; j < m; j++) xs.add(j);
        for (int i = 0; i < n; i++) ys.add(n - 1 - i);
        List<Number[]> cells = new ArrayList<>();
        for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) cells.add(new Number[] {j, n - 1 - i, h[i][j]});
        c.getStyler().setShowValue(true);
        c.addSeries("H", xs, ys, cells);
        return c;
    }

    /** Lines of y against x, one per named series (e.g. loss curves of several runs). */
    public static XYChart lines(String title, String xLabel, String yLabel, boolean logY, Map<String, double[][]> series) {
        XYChart c = lineChart(title, xLabel, yLabel, logY);
        series.forEach((name, xy) -> c.addSeries(name, xy[0], logY ? floor(xy[1]) : xy[1]).setMarker(SeriesMarkers.NONE));
        return c;
    }

    /** Writes a chart as PNG (the folder is created). */
    public static Path savePng(Chart<?, ?> chart, Path file) throws IOException {
        if (file.getParent() != null) Files.createDirectories(file.getParent());
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file.toString().endsWith(".png") ? file : Path.of(file + ".png");
    }

    /** Writes a chart as SVG, for papers and slides. */
    public static Path saveSvg(Chart<?, ?> chart, Path file) throws IOException {
        if (file.getParent() != null) Files.createDirectories(file.getParent());
        org.knowm.xchart.VectorGraphicsEncoder.saveVectorGraphic(chart, file.toString(), org.knowm.xchart.VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
        return file.toString().endsWith(".svg") ? file : Path.of(file + ".svg");
    }

    private static XYChart lineChart(String title, String x, String y, boolean logY) {
        XYChart c = new XYChartBuilder().width(720).height(400).title(title).xAxisTitle(x).yAxisTitle(y).build();
        c.getStyler().setYAxisLogarithmic(logY);
        c.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);   // never over the data
        return c;
    }

    /** Log axes cannot show 0: values are floored at 1e-16 (float64's resolution near 1). */
    private static double[] floor(double[] v) {
        double[] o = new double[v.length];
        for (int i = 0; i < v.length; i++) o[i] = Math.max(v[i], 1e-16);
        return o;
    }
}
