package hyperlab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The notebook series is committed clean: no outputs, no execution counts, the HyperLab kernel. */
class NotebooksTest {
    static final Path NOTEBOOKS = Path.of("..", "notebooks");

    @Test
    void notebooksAreCommittedWithOutputsStripped() throws Exception {
        List<Path> books;
        try (Stream<Path> s = Files.list(NOTEBOOKS)) {
            books = s.filter(p -> p.toString().endsWith(".ipynb")).sorted().toList();
        }
        assertFalse(books.isEmpty(), "no notebooks under " + NOTEBOOKS.toAbsolutePath());
        for (Path book : books) {
            JsonObject nb = JsonParser.parseString(Files.readString(book)).getAsJsonObject();
            assertEquals("hyperlab", nb.getAsJsonObject("metadata").getAsJsonObject("kernelspec").get("name").getAsString(), book + " kernel");
            int code = 0;
            for (JsonElement e : nb.getAsJsonArray("cells")) {
                JsonObject cell = e.getAsJsonObject();
                if (!cell.get("cell_type").getAsString().equals("code")) continue;
                code++;
                assertEquals(0, cell.getAsJsonArray("outputs").size(), book + ": strip outputs before committing (jupyter nbconvert --clear-output)");
                assertTrue(cell.get("execution_count").isJsonNull(), book + ": execution counts must be cleared");
            }
            assertTrue(code > 0, book + " has no code");
        }
    }
}
