package hyperlab.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;

class CellSourceTest {

    @Test
    void cellMagicOwnsTheBody() {
        CellSource s = CellSource.parse("%%time fast\nint x = 1;\nx");
        assertEquals("time", s.cellMagic());
        assertEquals(List.of("fast"), s.cellMagicArgs());
        assertEquals("int x = 1;\nx", s.body());
    }

    @Test
    void lineMagicsSplitCodeAndKeepLineNumbers() {
        CellSource s = CellSource.parse("int a = 1;\n%classpath lib/a.jar b\nint b = 2;\nb");
        assertNull(s.cellMagic());
        assertEquals(3, s.parts().size());
        assertEquals(1, s.parts().get(0).firstLine());
        assertEquals("classpath", s.parts().get(1).magic());
        assertEquals(List.of("lib/a.jar", "b"), s.parts().get(1).args());
        assertEquals(2, s.parts().get(1).firstLine());
        assertEquals(3, s.parts().get(2).firstLine());
        assertEquals("int b = 2;\nb\n", s.parts().get(2).code());
    }
}
