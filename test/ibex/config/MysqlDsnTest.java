package ibex.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class MysqlDsnTest {

    @Test
    void goDsn_withParams_keepsOnlyWhatConnectorJTakes() {
        var m = MysqlDsn.parse("root:1234@tcp(127.0.0.1:3306)/ibex?charset=utf8mb4&parseTime=True&loc=Local&allowNativePasswords=true");
        assertEquals(new MysqlDsn("jdbc:mysql://127.0.0.1:3306/ibex?characterEncoding=UTF-8", "root", "1234",
                "mysql 127.0.0.1:3306/ibex", List.of()), m);
    }

    @Test
    void goDsn_withoutParams() {
        var m = MysqlDsn.parse("ibex:pw@tcp(db.example:3307)/tasks");
        assertEquals("jdbc:mysql://db.example:3307/tasks", m.jdbcUrl());
        assertEquals("ibex", m.user());
        assertEquals("pw", m.password());
    }

    @Test
    void goDsn_passwordWithColonAndAt_splitsLikeTheGoDriver() {
        var m = MysqlDsn.parse("root:p:a@s@s@tcp(10.0.0.1:3306)/ibex?charset=utf8mb4");
        assertEquals("root", m.user());
        assertEquals("p:a@s@s", m.password());
        assertEquals("jdbc:mysql://10.0.0.1:3306/ibex?characterEncoding=UTF-8", m.jdbcUrl());
    }

    @Test
    void goDsn_defaultsAddressAndPortLikeTheGoDriver() {
        assertEquals("jdbc:mysql://127.0.0.1:3306/ibex", MysqlDsn.parse("root@/ibex").jdbcUrl());
        assertEquals("jdbc:mysql://127.0.0.1:3306/ibex", MysqlDsn.parse("root:x@tcp/ibex").jdbcUrl());
        assertEquals("jdbc:mysql://db:3306/ibex", MysqlDsn.parse("root:x@tcp(db)/ibex").jdbcUrl());
        assertEquals("jdbc:mysql://[::1]:3306/ibex", MysqlDsn.parse("root:x@tcp([::1])/ibex").jdbcUrl());
        assertEquals("", MysqlDsn.parse("tcp(db:1)/ibex").user());
    }

    @Test
    void goDsn_tlsMapsToSslMode_andUnknownParamsAreReported() {
        var m = MysqlDsn.parse("u:p@tcp(h:1)/d?tls=skip-verify&sql_mode=ANSI&timeout=5s");
        assertEquals("jdbc:mysql://h:1/d?sslMode=REQUIRED", m.jdbcUrl());
        assertEquals(List.of("sql_mode"), m.dropped());
    }

    @Test
    void goDsn_unixSocket_saysUseTcp() {
        var e = assertThrows(IllegalArgumentException.class, () -> MysqlDsn.parse("root:pw@unix(/var/run/mysqld.sock)/ibex"));
        assertEquals("unix sockets are not supported by the JDBC driver; use tcp(127.0.0.1:3306)", e.getMessage());
    }

    @Test
    void goDsn_missingDatabase() {
        var e = assertThrows(IllegalArgumentException.class, () -> MysqlDsn.parse("root:pw@tcp(h:1)/"));
        assertEquals("missing the database name", e.getMessage());
    }

    @Test
    void jdbcUrl_credentialsMoveOutOfTheUrl() {
        var m = MysqlDsn.parse("jdbc:mysql://db:3306/ibex?user=ibex&password=a%26b+c&useSSL=false");
        assertEquals(new MysqlDsn("jdbc:mysql://db:3306/ibex?useSSL=false", "ibex", "a&b+c", "mysql db:3306/ibex", List.of()), m);
        var n = MysqlDsn.parse("jdbc:mysql://u:p%40w@db:3306/ibex");
        assertEquals("jdbc:mysql://db:3306/ibex", n.jdbcUrl());
        assertEquals("p@w", n.password());
    }

    @Test
    void otherJdbcSchemes_areRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> MysqlDsn.parse("jdbc:mariadb://db/ibex"));
        assertEquals("a JDBC URL for mysql must start with jdbc:mysql://", e.getMessage());
    }
}
