package hyperlab.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UnigramTest {
    @TempDir Path dir;

    @Test
    void handComputedEntropies() {
        TokenFile.write(dir.resolve("t.bin"), new int[] {0, 0, 1, 1, 2, 2, 2, 2, 5, 5});
        try (TokenFile t = TokenFile.open(dir.resolve("t.bin"))) {
            assertEquals(Math.log(2), Unigram.entropyNats(new Split(t, 0, 4), 8), 1e-15, "two equally likely tokens");
            assertEquals(0, Unigram.entropyNats(new Split(t, 4, 8), 8), 1e-15, "one token only");
            // p = (0.2, 0.2, 0.4, 0.2) over the whole file
            double h = -(3 * 0.2 * Math.log(0.2) + 0.4 * Math.log(0.4));
            assertEquals(h, Unigram.entropyNats(new Split(t, 0, 10), 8), 1e-15);
            // fitted on [0,0,1,1] with add-one over vocab 8: q(0) = q(1) = 3/12, q(2) = 1/12
            double ce = -(2 * Math.log(3.0 / 12) + 2 * Math.log(1.0 / 12)) / 4;
            assertEquals(ce, Unigram.crossEntropyNats(new Split(t, 0, 4), new Split(t, 2, 6), 8), 1e-15);
        }
    }
}
