package hyperlab.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Tokens in nanoGPT's {@code .bin} format (flat little-endian uint16, no header), so files prepared
 * by nanoGPT or llm.c's older scripts load as they are. Reading maps the file instead of loading it.
 */
public final class TokenFile implements AutoCloseable {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private final Path path;
    private final Arena arena;
    private final MemorySegment data;

    private TokenFile(Path path, Arena arena, MemorySegment data) {
        this.path = path;
        this.arena = arena;
        this.data = data;
    }

    /** Writes tokens (each in [0, 65535]) atomically: a temp file next to it, then a rename. */
    public static void write(Path path, int[] tokens) {
        ByteBuffer buf = ByteBuffer.allocate(tokens.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] > 0xFFFF)
                throw new IllegalArgumentException("token " + tokens[i] + " at " + i + " does not fit uint16 (0..65535)");
            buf.putShort((short) tokens[i]);
        }
        buf.flip();
        try {
            Path dir = path.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, path.getFileName().toString(), ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                while (buf.hasRemaining()) ch.write(buf);
                ch.force(true);
            }
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write token file " + path + ": " + e, e);
        }
    }

    /** Maps a token file read-only; close it to unmap. */
    public static TokenFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size % 2 != 0)
                throw new IllegalArgumentException("token file " + path + " has " + size + " bytes, an odd number: not uint16 tokens");
            return new TokenFile(path, arena, ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena));
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException("cannot read token file " + path + ": " + e, e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() { return path; }

    /** The number of tokens. */
    public long length() { return data.byteSize() / 2; }

    /** Token i as an unsigned value. */
    public int get(long i) {
        return Short.toUnsignedInt(data.getAtIndex(U16, i));
    }

    /** The largest token id (−1 when empty): checked against the model's vocabulary before training. */
    public int max() {
        int m = -1;
        for (long i = 0; i < length(); i++) m = Math.max(m, get(i));
        return m;
    }

    /** CRC-32 of the raw bytes: a cheap fingerprint that tells a resumed run its data changed. */
    public long crc32() {
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        for (long off = 0; off < data.byteSize(); off += 1 << 30)
            crc.update(data.asSlice(off, Math.min(1L << 30, data.byteSize() - off)).asByteBuffer());
        return crc.getValue();
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
