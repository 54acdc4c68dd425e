package hyperlab.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** A plain-text training corpus: the pinned default (KJV, fetched by setup) or any UTF-8 text file. */
public record Corpus(String name, Path file) {
    /** Where setup caches the default corpus, relative to the HyperLab checkout. */
    static final String DEFAULT_FILE = "data/cache/kjv.txt";

    public Corpus {
        if (!Files.isRegularFile(file))
            throw new IllegalArgumentException("corpus file " + file.toAbsolutePath() + " does not exist: give a path to a UTF-8 .txt file");
    }

    /** Any text file. */
    public static Corpus fromFile(Path file) {
        return new Corpus(file.getFileName().toString().replaceFirst("\\.[^.]*$", ""), file);
    }

    /**
     * The King James Bible (4.3 MB, public domain) pinned in data/corpus.lock. Found under the
     * checkout named by -Dhyperlab.home or $HYPERLAB_HOME, else in the working folder or a parent.
     */
    public static Corpus defaultText() {
        Path found = locate(DEFAULT_FILE);
        if (found == null)
            throw new IllegalStateException("the default corpus (" + DEFAULT_FILE + ") is not fetched yet: run 'bin/hyperlab setup' "
                    + "(or lib/bin/fetch-corpus.sh), or train on your own text with data=/path/to/text.txt");
        return new Corpus("kjv", found);
    }

    /** "default" or a path, as the config's data key holds it. */
    public static Corpus of(String data) {
        return "default".equals(data) ? defaultText() : fromFile(Path.of(data));
    }

    public String text() {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read corpus " + file + " as UTF-8: " + e.getMessage(), e);
        }
    }

    /** Encodes the text and writes it as a token file (nanoGPT format) at {@code bin}. */
    public TokenFile tokenize(Tokenizer tokenizer, Path bin) {
        TokenFile.write(bin, tokenizer.encode(text()));
        return TokenFile.open(bin);
    }

    private static Path locate(String relative) {
        String home = System.getProperty("hyperlab.home", System.getenv("HYPERLAB_HOME"));
        if (home != null) {
            Path p = Path.of(home).resolve(relative);
            return Files.isRegularFile(p) ? p : null;
        }
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path p = d.resolve(relative);
            if (Files.isRegularFile(p)) return p;
        }
        return null;
    }
}
