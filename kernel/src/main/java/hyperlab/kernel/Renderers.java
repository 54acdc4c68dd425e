package hyperlab.kernel;

import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.display.common.Image;
import org.dflib.jjava.jupyter.kernel.display.mime.MIMEType;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.internal.chartpart.Chart;
import tech.tablesaw.api.Table;

/** Teaches the renderer HyperLab's rich types: images and XChart charts as PNG, Tablesaw tables as HTML. */
final class Renderers {

    /** Rows of a table shown inline; the rest is summarised in one line. */
    static final int TABLE_ROWS = 20;

    private Renderers() {
    }

    @SuppressWarnings({"rawtypes", "unchecked"})
    static void registerAll(Renderer renderer) {
        Image.registerAll(renderer);
        renderer.createRegistration(Chart.class)
                .preferring(MIMEType.IMAGE_PNG)
                .supporting(MIMEType.IMAGE_PNG)
                .register((chart, ctx) -> Image.renderImage(BitmapEncoder.getBufferedImage((Chart) chart), ctx));
        renderer.createRegistration(Table.class)
                .preferring(MIMEType.TEXT_HTML)
                .supporting(MIMEType.TEXT_HTML, MIMEType.TEXT_PLAIN)
                .register((table, ctx) -> {
                    ctx.renderIfRequested(MIMEType.TEXT_HTML, () -> TableHtml.of(table, TABLE_ROWS));
                    ctx.renderIfRequested(MIMEType.TEXT_PLAIN, () -> table.print(TABLE_ROWS));
                });
    }
}
