package hyperlab.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Base64;
import java.util.stream.IntStream;
import javax.imageio.ImageIO;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.display.mime.MIMEType;
import org.junit.jupiter.api.Test;
import org.knowm.xchart.XYChart;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.Table;

class DisplayConversionTest {

    private final Renderer renderer = new Renderer();

    DisplayConversionTest() {
        Renderers.registerAll(renderer);
    }

    @Test
    void bufferedImageBecomesPngThatDecodesBack() throws IOException {
        BufferedImage img = new BufferedImage(5, 4, BufferedImage.TYPE_INT_RGB);
        img.setRGB(2, 1, Color.RED.getRGB());
        BufferedImage back = decode(renderer.render(img));
        assertEquals(5, back.getWidth());
        assertEquals(4, back.getHeight());
        assertEquals(Color.RED.getRGB(), back.getRGB(2, 1));
    }

    @Test
    void xchartBecomesPngOfTheChartSize() throws IOException {
        XYChart chart = new XYChart(320, 200);
        chart.addSeries("loss", new double[] {1, 2, 3}, new double[] {3, 2, 1});
        BufferedImage back = decode(renderer.render(chart));
        assertEquals(320, back.getWidth());
        assertEquals(200, back.getHeight());
    }

    @Test
    void tableBecomesHtmlWithRowLimit() {
        int rows = Renderers.TABLE_ROWS + 7;
        Table t = Table.create("runs",
                IntColumn.create("step", IntStream.range(0, rows).toArray()),
                DoubleColumn.create("loss", IntStream.range(0, rows).mapToDouble(i -> 1.0 / (i + 1)).toArray()));
        DisplayData d = renderer.render(t);
        String html = (String) d.getData(MIMEType.TEXT_HTML);
        assertNotNull(html);
        assertEquals(Renderers.TABLE_ROWS + 1, html.split("<tr>", -1).length - 1, "header + limited rows");
        assertTrue(html.contains("<th>step</th><th>loss</th>"), html);
        assertTrue(html.contains("… 7 more rows"), html);
        assertTrue(html.contains("<td>19</td>"));
        assertFalse(html.contains("<td>20</td>"));
    }

    @Test
    void tableHtmlEscapesMarkup() {
        Table t = Table.create("t", tech.tablesaw.api.StringColumn.create("s", new String[] {"<b>&"}));
        assertTrue(TableHtml.of(t, 5).contains("<td>&lt;b&gt;&amp;</td>"));
    }

    private static BufferedImage decode(DisplayData d) throws IOException {
        String b64 = (String) d.getData(MIMEType.IMAGE_PNG);
        assertNotNull(b64, "no image/png in the display data");
        return ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(b64)));
    }
}
