package hyperlab.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenFileTest {
    @TempDir Path dir;

    @Test
    void writesFlatLittleEndianUint16AndReadsItBack() throws Exception {
        int[] tokens = {0, 1, 255, 256, 50256, 65535};
        Path f = dir.resolve("t.bin");
        TokenFile.write(f, tokens);
        byte[] raw = Files.readAllBytes(f);
        // nanoGPT: np.array(ids, dtype=np.uint16).tofile(f) — two bytes each, low byte first, no header
        assertArrayEquals(new byte[] {0, 0, 1, 0, (byte) 0xFF, 0, 0, 1, (byte) 0x50, (byte) 0xC4, (byte) 0xFF, (byte) 0xFF}, raw);
        try (TokenFile t = TokenFile.open(f)) {
            assertEquals(tokens.length, t.length());
            for (int i = 0; i < tokens.length; i++) assertEquals(tokens[i], t.get(i));
        }
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temp file is left behind");
        }
    }

    @Test
    void refusesTokensBeyondUint16AndOddFiles() throws Exception {
        var e = assertThrows(IllegalArgumentException.class, () -> TokenFile.write(dir.resolve("x.bin"), new int[] {1, 65536}));
        assertTrue(e.getMessage().contains("65536"), e.getMessage());
        Path odd = Files.write(dir.resolve("odd.bin"), new byte[] {1, 2, 3});
        e = assertThrows(IllegalArgumentException.class, () -> TokenFile.open(odd));
        assertTrue(e.getMessage().contains("odd"), e.getMessage());
    }
}
