package hyperlab.kernel;

import tech.tablesaw.api.Table;

/** Renders a Tablesaw table as an HTML table that shows at most a fixed number of rows. */
final class TableHtml {

    private TableHtml() {
    }

    static String of(Table table, int maxRows) {
        StringBuilder html = new StringBuilder("<table class=\"hyperlab-table\">");
        if (table.name() != null && !table.name().isBlank()) {
            html.append("<caption>").append(escape(table.name())).append("</caption>");
        }
        html.append("<thead><tr>");
        for (String name : table.columnNames()) {
            html.append("<th>").append(escape(name)).append("</th>");
        }
        html.append("</tr></thead><tbody>");
        int shown = Math.min(maxRows, table.rowCount());
        for (int r = 0; r < shown; r++) {
            html.append("<tr>");
            for (int c = 0; c < table.columnCount(); c++) {
                html.append("<td>").append(escape(table.getString(r, c))).append("</td>");
            }
            html.append("</tr>");
        }
        html.append("</tbody></table>");
        int hidden = table.rowCount() - shown;
        if (hidden > 0) {
            html.append("<p>… ").append(hidden).append(" more rows (").append(table.rowCount())
                    .append(" × ").append(table.columnCount()).append(")</p>");
        }
        return html.toString();
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
