import Testing

@testable import Storage

@Suite("Cutting migration files into statements")
struct SQLScriptTests {
    @Test("statements are cut at semicolons and know the line they start on")
    func cutsAndNumbers() {
        let script = SQLScript(
            "CREATE TABLE a (x int);\n\n-- a comment; with a semicolon\nINSERT INTO a\nVALUES (1);\n"
        )
        #expect(script.statements.map(\.text) == ["CREATE TABLE a (x int)", "INSERT INTO a\nVALUES (1)"])
        #expect(script.statements.map(\.line) == [1, 4])
    }

    @Test("semicolons inside strings, identifiers, dollar quotes and block comments do not cut")
    func hiddenSemicolons() {
        let source = """
            SELECT 'a;b', 'it''s;', E'x\\';y', "odd;name";
            DO $body$ BEGIN PERFORM 1; END $body$;
            SELECT $$;$$ /* one; /* nested; */ still; */ ;
            """
        let script = SQLScript(source)
        #expect(script.statements.count == 3)
        #expect(script.statements[1].text == "DO $body$ BEGIN PERFORM 1; END $body$")
        #expect(script.statements.map(\.line) == [1, 2, 3])
    }

    @Test("an error position inside a statement maps to the file's line")
    func positionToLine() {
        let script = SQLScript("SELECT 1;\n\nCREATE TABLE t (\n  a int,\n  b nonsense\n);")
        let statement = script.statements[1]
        let position =
            statement.text.distance(
                from: statement.text.startIndex,
                to: statement.text.range(of: "nonsense")!.lowerBound
            ) + 1
        #expect(SQLScript.line(ofPosition: position, in: statement) == 5)
    }
}
