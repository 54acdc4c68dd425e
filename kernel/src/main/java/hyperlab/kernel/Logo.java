package hyperlab.kernel;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/** Draws the kernelspec logo (four residual streams and a "J") at install time instead of committing binaries. */
public final class Logo {

    private Logo() {
    }

    static BufferedImage draw(int size) {
        BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_INT_ARGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(new Color(0x1f3a5f));
        g.fillRoundRect(0, 0, size, size, size / 4, size / 4);
        Color[] streams = {new Color(0xf28e2b), new Color(0x59a14f), new Color(0x4e79a7), new Color(0xe15759)};
        g.setStroke(new BasicStroke(Math.max(1f, size / 24f)));
        for (int i = 0; i < streams.length; i++) {
            int x = size * (2 * i + 1) / 8;
            g.setColor(streams[i]);
            g.drawLine(x, size / 10, x, size - size / 10);
        }
        g.setColor(Color.WHITE);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, size * 5 / 8));
        var fm = g.getFontMetrics();
        g.drawString("J", (size - fm.stringWidth("J")) / 2, (size + fm.getAscent() - fm.getDescent()) / 2);
        g.dispose();
        return img;
    }

    /** Writes logo-32x32.png and logo-64x64.png into the folder given as the only argument. */
    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: java hyperlab.kernel.Logo KERNELSPEC_DIR");
            System.exit(2);
        }
        for (int size : new int[] {32, 64}) {
            ImageIO.write(draw(size), "png", Path.of(args[0], "logo-" + size + "x" + size + ".png").toFile());
        }
    }
}
