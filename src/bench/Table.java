package bench;

import java.util.ArrayList;
import java.util.List;

/** A markdown table. */
final class Table {
    private final List<String> header;
    private final List<List<String>> rows = new ArrayList<>();

    Table(String... header) {
        this.header = List.of(header);
    }

    void row(List<String> cells) {
        rows.add(cells);
    }

    void row(String... cells) {
        rows.add(List.of(cells));
    }

    boolean isEmpty() {
        return rows.isEmpty();
    }

    String markdown() {
        var b = new StringBuilder();
        line(b, header);
        b.append('|');
        header.forEach(h -> b.append("---|"));
        b.append('\n');
        rows.forEach(r -> line(b, r));
        return b.toString();
    }

    private static void line(StringBuilder b, List<String> cells) {
        b.append('|');
        for (var c : cells) {
            b.append(' ').append(c.replace("|", "\\|")).append(" |");
        }
        b.append('\n');
    }
}
