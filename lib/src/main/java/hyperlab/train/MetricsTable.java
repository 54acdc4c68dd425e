package hyperlab.train;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import tech.tablesaw.api.BooleanColumn;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.Table;

/** Logged steps as a Tablesaw table (what notebooks render) and back from metrics.jsonl lines. */
public final class MetricsTable {
    private static final Pattern FIELD = Pattern.compile("\"(\\w+)\":(null|true|false|[-+0-9.eE]+)");

    private MetricsTable() {}

    /** Columns step, loss, val_loss (missing where not evaluated), lr, grad_norm, tokens_per_s, elapsed_s, skipped. */
    public static Table of(String name, List<Metrics> rows) {
        DoubleColumn val = DoubleColumn.create("val_loss");
        for (Metrics m : rows) {
            if (m.evaluated()) val.append(m.valLoss());
            else val.appendMissing();
        }
        return Table.create(name,
                IntColumn.create("step", rows.stream().mapToInt(Metrics::step).toArray()),
                DoubleColumn.create("loss", rows.stream().mapToDouble(Metrics::loss).toArray()),
                val,
                DoubleColumn.create("lr", rows.stream().mapToDouble(Metrics::lr).toArray()),
                DoubleColumn.create("grad_norm", rows.stream().mapToDouble(Metrics::gradNorm).toArray()),
                DoubleColumn.create("tokens_per_s", rows.stream().mapToDouble(Metrics::tokensPerS).toArray()),
                DoubleColumn.create("elapsed_s", rows.stream().mapToDouble(Metrics::elapsedS).toArray()),
                BooleanColumn.create("skipped", rows.stream().map(Metrics::skipped).toList()));
    }

    /** Reads one line written by {@link Metrics#toJson()}. */
    public static Metrics parse(String json) {
        java.util.Map<String, String> f = new java.util.HashMap<>();
        Matcher m = FIELD.matcher(json);
        while (m.find()) f.put(m.group(1), m.group(2));
        if (!f.containsKey("step")) throw new IllegalArgumentException("not a metrics line (no step): " + json);
        return new Metrics(Integer.parseInt(f.get("step")), num(f, "loss"), num(f, "val_loss"), num(f, "lr"),
                num(f, "grad_norm"), num(f, "tokens_per_s"), num(f, "elapsed_s"), "true".equals(f.get("skipped")));
    }

    private static double num(java.util.Map<String, String> f, String k) {
        String v = f.get(k);
        return v == null || v.equals("null") ? Double.NaN : Double.parseDouble(v);
    }
}
