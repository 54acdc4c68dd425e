package hyperlab.gpu;

import com.google.gson.JsonObject;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KernelTimesTest {
    /** An H100's ncu output for one mHC step at preset M (9a03da3's kernels), GpuBench's JSON between ncu's lines. */
    private static List<String> h100() throws IOException {
        try (InputStream in = KernelTimesTest.class.getResourceAsStream("ncu-per-kernel-h100.txt")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
    }

    @Test
    void readsEveryKernelsShapeLaunchesAndAverage() throws IOException {
        Map<String, KernelTimes.Kernel> k = KernelTimes.parse(h100());
        assertEquals(List.of("sm_dots_maps_backward g512x1 b128x1", "sm_pack g64x216 b256x1", "sm_project g128x1 b512x1",
                "sm_stream_backward_mma g12x22 b256x1"), List.copyOf(k.keySet()));
        KernelTimes.Kernel project = k.get("sm_project g128x1 b512x1");
        assertEquals(96, project.launches());
        assertEquals(60.45, project.meanUs(), 1e-9, "the Average column, not the Minimum (59.74) or Maximum (61.41)");
        assertEquals(4, k.get("sm_pack g64x216 b256x1").launches());
        assertEquals(172.37, k.get("sm_stream_backward_mma g12x22 b256x1").meanUs(), 1e-9);
    }

    @Test
    void convertsEveryTimeUnitToMicroseconds() {
        for (var unit : Map.of("ns", 0.00125, "us", 1.25, "ms", 1250.0, "usecond", 1.25).entrySet()) {
            var k = KernelTimes.parse(List.of("  k (1, 1, 1)x(32, 1, 1), Context 1, Stream 7, Device 0, CC 9.0, Invocations 3",
                    "    gpu__time_duration.sum          " + unit.getKey() + "   1.00   1.50   1.25"));
            assertEquals(unit.getValue(), k.get("k g1x1 b32x1").meanUs(), 1e-12, unit.getKey());
        }
        var e = assertThrows(IllegalArgumentException.class, () -> KernelTimes.parse(List.of(
                "  k (1, 1, 1)x(32, 1, 1), Device 0, CC 9.0, Invocations 3", "    gpu__time_duration.sum          fortnight   1   1   1")));
        assertTrue(e.getMessage().contains("fortnight"), e.getMessage());
    }

    @Test
    void reportsEachRunOverTheFirst() throws IOException {
        List<String> base = h100();
        // a second run: sm_project 10 % faster, sm_pack missing, one kernel only it launched
        List<String> other = List.of(
                "  sm_project (128, 1, 1)x(512, 1, 1), Device 0, CC 9.0, Invocations 96",
                "    gpu__time_duration.sum          us   50.00   60.00   54.405",
                "  sm_new (4, 1, 1)x(64, 1, 1), Device 0, CC 9.0, Invocations 24",
                "    gpu__time_duration.sum          us   1.00   3.00   2.00");
        Map<String, Map<String, KernelTimes.Kernel>> runs = new LinkedHashMap<>();
        runs.put("base", KernelTimes.parse(base));
        runs.put("-DSM_PT=64", KernelTimes.parse(other));
        JsonObject r = KernelTimes.report(Map.of("base_commit", "9a03da3"), runs);
        assertEquals("9a03da3", r.get("base_commit").getAsString());
        assertEquals("base", r.get("first").getAsString());
        assertEquals(60.45, r.getAsJsonObject("runs").getAsJsonObject("base").get("sm_project g128x1 b512x1").getAsDouble());
        JsonObject over = r.getAsJsonObject("over_first").getAsJsonObject("-DSM_PT=64");
        assertEquals(0.9, over.get("sm_project g128x1 b512x1").getAsDouble(), 1e-4);
        assertFalse(over.has("sm_new g4x1 b64x1"), "no ratio for a kernel the first run did not launch");
        assertFalse(r.getAsJsonObject("over_first").has("base"));
        assertEquals(4, r.getAsJsonObject("launches").get("sm_pack g64x216 b256x1").getAsInt());
    }

    @Test
    void refusesAnOutputWithoutSummaries() {
        var e = assertThrows(IllegalArgumentException.class, () -> KernelTimes.parse(List.of("==PROF== Connected to process 1",
                "==ERROR== the application returned an error code (1)")));
        assertTrue(e.getMessage().contains("-k filter"), e.getMessage());
    }
}
