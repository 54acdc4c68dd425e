package hyperlab.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;

import java.util.List;

class BenchAbTest {
    /** A GpuBench document with an rc row and an mhc row (the latter profiled: phases and a GEMM shape), or an mhc row that failed. */
    private static JsonObject run(double rcMs, double mhcMs, double mhcMaps) {
        String mhc = Double.isNaN(mhcMs)
                ? "{\"paradigm\": \"mhc\", \"precision\": \"bf16\", \"recompute\": \"off\", \"error\": \"out of memory\"}"
                : "{\"paradigm\": \"mhc\", \"precision\": \"bf16\", \"recompute\": \"off\", \"ms_per_step\": " + mhcMs
                  + ", \"phases_ms\": {\"maps\": " + mhcMaps + ", \"gemm\": 13.5}, \"gemms\": {\"16384x2304x768 bT bf16>bf16 bias\": {\"ms\": "
                  + mhcMaps / 10 + ", \"tflops\": 600, \"calls_ms\": [0.1]}}}";
        return JsonParser.parseString("{\"device\": \"NVIDIA H200\", \"preset\": \"M\", \"batch\": 16, \"time\": 1024, \"timed_steps\": 10,"
                + " \"paradigms\": [{\"paradigm\": \"rc\", \"precision\": \"bf16\", \"recompute\": \"off\", \"ms_per_step\": " + rcMs + "}, "
                + mhc + "]}").getAsJsonObject();
    }

    @Test
    void meansAndRatioPerRowOverTheRounds() {
        JsonObject r = BenchAb.merge("c5af0ea", List.of(run(37.0, 62.0, 27.0), run(37.2, 61.6, 26.6)),
                List.of(run(36.9, 59.0, 24.0), run(37.1, 58.6, 23.6)));
        assertEquals("c5af0ea", r.get("base_commit").getAsString());
        assertEquals(2, r.get("rounds").getAsInt());
        assertEquals(16, r.get("batch").getAsInt());
        var rows = r.getAsJsonArray("rows");
        assertEquals(2, rows.size());
        JsonObject rc = rows.get(0).getAsJsonObject(), mhc = rows.get(1).getAsJsonObject();
        assertEquals("rc", rc.get("paradigm").getAsString());
        assertEquals(37.1, rc.get("base_mean_ms").getAsDouble(), 1e-12);
        assertEquals(37.0, rc.get("new_mean_ms").getAsDouble(), 1e-12);
        assertEquals(37.0 / 37.1, rc.get("new_over_base").getAsDouble(), 1e-12);
        assertFalse(rc.has("phases_ms"), "rc ran without --profile");
        assertEquals(2, mhc.getAsJsonArray("base_ms").size());
        assertEquals(58.8 / 61.8, mhc.get("new_over_base").getAsDouble(), 1e-12);
        JsonObject maps = mhc.getAsJsonObject("phases_ms").getAsJsonObject("maps");
        assertEquals(26.8, maps.get("base_mean_ms").getAsDouble(), 1e-12);
        assertEquals(23.8, maps.get("new_mean_ms").getAsDouble(), 1e-12);
        JsonObject cAttn = mhc.getAsJsonObject("gemms_ms").getAsJsonObject("16384x2304x768 bT bf16>bf16 bias");
        assertEquals(2.68, cAttn.get("base_mean_ms").getAsDouble(), 1e-12);
        assertEquals(2.38, cAttn.get("new_mean_ms").getAsDouble(), 1e-12);
        assertFalse(rc.has("gemms_ms"), "rc ran without --profile");
    }

    @Test
    void aRowThatFailedIsLeftOutOfThatBuildsTimes() {
        JsonObject r = BenchAb.merge("x", List.of(run(37.0, 62.0, 27.0)), List.of(run(36.9, Double.NaN, 0)));
        JsonObject mhc = r.getAsJsonArray("rows").get(1).getAsJsonObject();
        assertEquals(1, mhc.getAsJsonArray("base_ms").size());
        assertEquals(0, mhc.getAsJsonArray("new_ms").size());
        assertFalse(mhc.has("new_over_base"), "no ratio without times on both builds");
    }

    @Test
    void unequalRoundsAreRefused() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> BenchAb.merge("x", List.of(run(37, 62, 27), run(37, 62, 27)), List.of(run(37, 62, 27))));
        assertTrue(e.getMessage().contains("2 base, 1 new"), e.getMessage());
    }
}
