/**
 * The validator on hand-written documents, for what the fixtures do not cover: the policy #19
 * additions (duplicate keys, a document that is not a mapping), and kinds and lines of the
 * common mistakes.
 */
import { describe, expect, it } from "vitest";
import { parseUserData } from "../cloud-config/document.js";
import { validateUserData } from "../cloud-config/validate.js";

const entries = (doc: string) =>
  validateUserData(doc).entries.map((e) => `${e.line}:${e.kind}:${e.message}`);

describe("validateUserData", () => {
  it("policy #19: a duplicate key is an error on its second line, naming the first", () => {
    expect(
      entries(
        "#cloud-config\nhostname: a\ncoreos:\n  fleet:\n    metadata: x\n    metadata: y\nhostname: b\n",
      ),
    ).toEqual([
      '6:error:duplicate key "metadata" (also on line 5); remove one of them',
      '7:error:duplicate key "hostname" (also on line 2); remove one of them',
    ]);
  });

  it("policy #19: public-ip and public_ip are the same key", () => {
    expect(
      entries("#cloud-config\ncoreos:\n  fleet:\n    public-ip: 1.2.3.4\n    public_ip: 1.2.3.5\n"),
    ).toEqual(['5:error:duplicate key "public_ip" (also on line 4); remove one of them']);
  });

  it("policy #19: a list or a scalar instead of a mapping is an error", () => {
    expect(validateUserData("#cloud-config\n- a\n").hasErrors).toBe(true);
    expect(validateUserData("#cloud-config\njust text\n").hasErrors).toBe(true);
    expect(validateUserData("#cloud-config\n").entries).toEqual([]);
  });

  it("an unknown key is a warning, a wrong type a warning (coreos-cloudinit's verdicts), a bad value an error", () => {
    const r = validateUserData(
      "#cloud-config\nhostnmae: a\ncoreos:\n  units:\n    - name: a.service\n      enable: maybe\n      command: begin\n",
    );
    expect(r.entries.map((e) => `${e.line}:${e.kind}`)).toEqual([
      "2:warning",
      "6:warning",
      "7:error",
    ]);
    expect(r.hasErrors).toBe(true);
  });

  it("a YAML syntax error is one error on its line, and nothing else", () => {
    expect(
      validateUserData("#cloud-config\nwrite_files:\n  - path: /a\n   content: [\n").entries,
    ).toHaveLength(1);
    expect(
      validateUserData("#cloud-config\nwrite_files:\n  - path: /a\n    content: [\n").entries[0]
        ?.kind,
    ).toBe("error");
  });

  it("policy #18: YAML 1.2 numbers, YAML 1.1 booleans", () => {
    const c = parseUserData(
      "#cloud-config\ncoreos:\n  fleet:\n    verbosity: 010\n    disable_engine: yes\n    token_limit: 0x10\n",
    ).config;
    expect(c.coreos.fleet.verbosity).toBe(10);
    expect(c.coreos.fleet.disable_engine).toBe(true);
    expect(c.coreos.fleet.token_limit).toBe(16);
  });

  it("a bad encoding is an error on the content's line", () => {
    expect(
      entries("#cloud-config\nwrite_files:\n  - path: /a\n    encoding: gzip\n    content: nope\n"),
    ).toEqual(['5:error:content cannot be decoded as "gzip"']);
  });
});
