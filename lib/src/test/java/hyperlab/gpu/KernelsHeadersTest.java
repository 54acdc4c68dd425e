package hyperlab.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import hyperlab.cuda.Cuda;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The "needs a.cuh, b.cuh and c.cuh" phrase that decides which shared headers go in front of a kernel source. */
class KernelsHeadersTest {
    @Test
    void readsOneTwoOrManyHeadersFromTheFirstPhrase() {
        assertEquals(List.of("a.cuh"), Kernels.headersNamed("// needs a.cuh (wide loads)\n// needs z.cuh"));
        assertEquals(List.of("a.cuh", "b.cuh"), Kernels.headersNamed("// it needs a.cuh and b.cuh."));
        assertEquals(List.of("a.cuh", "b.cuh", "c.cuh"), Kernels.headersNamed("// needs a.cuh, b.cuh and c.cuh (x, y)"));
        assertEquals(List.of(), Kernels.headersNamed("// needs D a multiple of 4"));
    }

    @Test
    void theStreamMapsAndLayerNormSourcesNameEveryHeaderTheyUse() {
        assertEquals(List.of("bf16.cuh", "async.cuh", "mma.cuh", "layernorm.cuh"), Kernels.headersNamed(Cuda.source("hyperlab/gpu/streams.cu")));
        assertEquals(List.of("bf16.cuh", "layernorm.cuh"), Kernels.headersNamed(Cuda.source("hyperlab/gpu/layernorm.cu")));
    }
}
