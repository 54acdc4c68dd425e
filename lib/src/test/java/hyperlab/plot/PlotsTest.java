package hyperlab.plot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import hyperlab.diag.Gains;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;

class PlotsTest {
    @Test
    void convergenceChartCarriesTheReportedErrors(@TempDir Path dir) throws Exception {
        double[][] logits = {{0, 1, 2}, {1, 0, -1}, {2, 2, 0}};
        XYChart c = Plots.sinkhornConvergence(logits, 10);
        var cols = c.getSeriesMap().get("columns");
        assertEquals(10, cols.getXData().length);
        assertEquals(hyperlab.manifold.Sinkhorn.converge(logits, 10).columnError()[3], cols.getYData()[3], 0);
        Path png = Plots.savePng(c, dir.resolve("conv.png"));
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(720, img.getWidth());
        assertEquals(400, img.getHeight());
        String svg = Files.readString(Plots.saveSvg(c, dir.resolve("conv.svg")));
        assertTrue(svg.contains("<svg") && svg.contains("</svg>") && svg.contains("<path"), "a complete SVG with drawn paths");
    }

    @Test
    void gainsAndHeatMapsRender() {
        var chart = Plots.gains(Gains.randomComposite(4, 8, 0.2, 1), "composite fwd");
        assertEquals(java.util.Set.of("hc", "mhc", "mhc-lite", "shc"), chart.getSeriesMap().keySet());
        assertEquals(8, chart.getSeriesMap().get("mhc").getXData().length);
        BufferedImage heat = BitmapEncoder.getBufferedImage(Plots.heatMap(new double[][] {{1, -0.5}, {0.25, 0}}, "H_res"));
        assertTrue(heat.getWidth() == 420 && heat.getHeight() == 360);
    }
}
