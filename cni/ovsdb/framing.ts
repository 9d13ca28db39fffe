// RFC 7047's stream framing: JSON-RPC messages are JSON objects written one after another on the
// socket, with no delimiter. A chunk may hold half a message or several; the splitter keeps the
// unfinished tail and returns each complete top-level value, found by tracking nesting outside
// strings (the only place a brace is not structure). Text arrives decoded (the socket's utf8
// decoder keeps a character split across chunks whole).

/** More unparsed text than any answer accelnet asks for (a select of a few rows): the peer is broken. */
const MAX_BUFFERED = 16 * 1024 * 1024;

export class JsonStreamSplitter {
  private buffer = "";
  /** Where scanning resumes, and the state there: nesting depth, inside a string, after a backslash. */
  private scanned = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;

  /** Adds text; returns the messages it completed, in order. Throws on invalid JSON or overflow. */
  push(text: string): unknown[] {
    this.buffer += text;
    const out: unknown[] = [];
    let start = 0;
    for (let i = this.scanned; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === "\\") this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (c === '"') this.inString = true;
      else if (c === "{" || c === "[") this.depth++;
      else if (c === "}" || c === "]") {
        if (--this.depth < 0) throw new Error(`unexpected "${c}"`);
        if (this.depth === 0) {
          out.push(JSON.parse(this.buffer.slice(start, i + 1)));
          start = i + 1;
        }
      } else if (this.depth === 0 && !/\s/.test(c ?? "")) {
        throw new Error(`unexpected ${JSON.stringify(c)} between messages`);
      }
    }
    this.buffer = this.buffer.slice(start);
    this.scanned = this.buffer.length;
    if (this.buffer.length > MAX_BUFFERED) throw new Error(`a message longer than ${MAX_BUFFERED} bytes`);
    return out;
  }
}
