package hyperlab.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import hyperlab.cuda.Dim3;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The column-sum grid: every column covered once, row chunks of at least 32, two waves of 8 blocks an SM where rows allow. */
class ColumnTilesTest {
    @ParameterizedTest(name = "{0} rows, {1} columns, v {2}, {3} SMs")
    @CsvSource({"16384, 3072, 8, 132", "16384, 768, 8, 132", "16384, 2304, 4, 132", "15, 7, 1, 132", "64, 1000, 8, 1", "100000, 1, 1, 0"})
    void coversColumnsAndFillsTheGpu(int rows, int cols, int v, int sms) {
        Dim3 g = Kernels.columnTiles(rows, cols, v, sms);
        assertEquals((cols + 32 * v - 1) / (32 * v), g.x(), "one block column per 32·v columns");
        assertTrue(g.y() == 1 || g.y() * 32 <= rows, "row chunks of at least 32 rows: " + g.y());
        assertTrue(g.x() * g.y() >= 16 * Math.max(1, sms) || g.y() == Math.max(1, rows / 32), "two waves, or every chunk as small as allowed: " + g);
        assertEquals(1, g.z());
    }
}
