package hyperlab.gpu;

import hyperlab.manifold.Permutations;
import hyperlab.manifold.SpectralSphere;
import hyperlab.nn.MapSpec;
import hyperlab.nn.Paradigm;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Φ_cat / theta bookkeeping of StreamMaps against MapSpec (CPU only). */
class StreamMapsLayoutTest {
    @Test
    void everyMapSpecParameterHasOneSlotOfItsShapeAndTheSlotsTileTheBuffers() {
        for (Paradigm p : List.of(Paradigm.HC, Paradigm.MHC, Paradigm.MHC_LITE, Paradigm.SHC))
            for (int n = 1; n <= (p == Paradigm.MHC_LITE ? Permutations.MAX_STREAMS : 8); n++)
                for (boolean dyn : new boolean[] {true, false}) {
                    int c = 5;
                    StreamMapsLayout l = new StreamMapsLayout(p, n, c, dyn);
                    List<MapSpec.Param> spec = StreamMapsLayout.spec(p, n, c, dyn);
                    String where = p + " n=" + n + " dynamic=" + dyn;
                    assertEquals(spec.size(), l.slots().size(), where);
                    boolean[] cols = new boolean[l.columns()];
                    boolean[] theta = new boolean[l.thetaSize()];
                    for (int i = 0; i < spec.size(); i++) {
                        MapSpec.Param ps = spec.get(i);
                        StreamMapsLayout.Slot s = l.slots().get(i);
                        assertEquals(ps.name(), s.name(), where);
                        assertArrayEquals(ps.shape(), s.shape(), where + " " + s.name());
                        assertEquals(ps.size(), s.matrix() ? (long) n * c * s.width() : s.width(), where + " " + s.name());
                        assertEquals(ps.shape().length == 2 && ps.shape()[0] == (long) n * c && ps.decay(), s.matrix(), where + " " + s.name());
                        boolean[] used = s.matrix() ? cols : theta;
                        for (int k = s.offset(); k < s.offset() + s.width(); k++) {
                            assertTrue(!used[k], where + ": " + s.name() + " overlaps at " + k);
                            used[k] = true;
                        }
                    }
                    for (int k = 0; k < cols.length; k++) assertTrue(cols[k], where + ": column " + k + " unused");
                    int expectM = !(p != Paradigm.HC || dyn) ? 0 : 2 * n + switch (p) {
                        case HC, MHC -> n * n;
                        case MHC_LITE -> Permutations.count(n);
                        default -> n > 1 ? 2 * SpectralSphere.skewSize(n) + n - 1 : 0;
                    };
                    assertEquals(expectM, l.columns(), where);
                    // theta slots beyond the three α are all used when the paradigm has them
                    for (int k = 3; k < theta.length; k++)
                        if (!theta[k]) assertTrue(p == Paradigm.SHC && n <= 2, where + ": theta slot " + k + " unused " + Arrays.toString(theta));
                }
    }

    @Test
    void rcHasNoStreamMaps() {
        assertThrows(IllegalArgumentException.class, () -> new StreamMapsLayout(Paradigm.RC, 1, 8, true));
    }
}
