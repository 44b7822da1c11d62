//! The condition language of `successCondition` / `failureCondition`: a
//! documented subset of expr-lang (github.com/expr-lang/expr), the language
//! Argo Rollouts evaluates them in (`utils/evaluate/evaluate.go`), so Argo
//! users' conditions read the same here.
//!
//! Hand-written, not a crate: evalexpr has no indexing (`result[0]`) nor
//! predicates (`{# < 1}`); CEL (cel-interpreter) and rhai are other languages
//! (`result.all(x, x < 1)`, `|x| x < 1`), so Argo's conditions would not
//! carry over, and both are large for a binary budget of 8 MB. The subset:
//!
//! - values: numbers (`0.05`, `1e3`), strings (`"UP"`, `'UP'`), `true`,
//!   `false`, `nil`, lists `[1, 2]`, and `result`: a number (Prometheus
//!   scalar), a list of numbers (vector), or any JSON value (web provider);
//! - `result[0]`, `result[-1]` (from the end), `result.status`, `result["k"]`;
//! - `!`/`not`, unary `-`, `* / %`, `+ -` (`+` also joins strings),
//!   `== != < <= > >=`, `in` (list membership, map key), `&&`/`and`,
//!   `||`/`or`, parentheses;
//! - functions `isNaN(x)`, `isInf(x)`, `len(x)`, `abs(x)`, `asInt(s)`,
//!   `asFloat(s)` (Argo's), and `all(list, {pred})`, `any(list, {pred})`,
//!   `none(list, {pred})`, `filter(list, {pred})`, where `#` is the element.
//!
//! One deviation, for Prometheus vectors: a list of exactly one number
//! compares and computes as that number, so `result < 0.05` works on the
//! one-sample vector a `sum(...)` query returns (in Argo it is an error and
//! `result[0] < 0.05` is needed; both work here). A longer list in a
//! comparison is an error that says to index it or use `all`/`any`.

use std::collections::BTreeMap;
use std::fmt;

/// A value a condition sees or computes.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::Map(o.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect())
            }
        }
    }
}

impl Value {
    /// Whether this is NaN or a list holding NaN.
    pub fn has_nan(&self) -> bool {
        match self {
            Value::Number(n) => n.is_nan(),
            Value::List(l) => l.iter().any(Value::has_nan),
            _ => false,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nil",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// A one-element list as its element (see the module doc).
    fn scalar(&self) -> &Value {
        match self {
            Value::List(l) if l.len() == 1 => &l[0],
            v => v,
        }
    }
}

/// Numbers as Prometheus writes them (`NaN`, `+Inf`), whole numbers without
/// a fraction; strings quoted.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => f.write_str(&number(*n)),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k:?}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A number as Prometheus prints it.
pub fn number(n: f64) -> String {
    if n.is_nan() {
        "NaN".into()
    } else if n.is_infinite() {
        if n > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{n}")
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Func {
    IsNaN,
    IsInf,
    Len,
    Abs,
    AsInt,
    AsFloat,
    All,
    Any,
    None,
    Filter,
}

impl Func {
    fn named(name: &str) -> Option<Func> {
        Some(match name {
            "isNaN" => Func::IsNaN,
            "isInf" => Func::IsInf,
            "len" => Func::Len,
            "abs" => Func::Abs,
            "asInt" => Func::AsInt,
            "asFloat" => Func::AsFloat,
            "all" => Func::All,
            "any" => Func::Any,
            "none" => Func::None,
            "filter" => Func::Filter,
            _ => return None,
        })
    }

    fn takes_predicate(self) -> bool {
        matches!(self, Func::All | Func::Any | Func::None | Func::Filter)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Lit(Value),
    Result,
    Elem,
    List(Vec<Expr>),
    Index(Box<Expr>, Box<Expr>),
    Field(Box<Expr>, String),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

/// A parsed condition, ready to evaluate against many results.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    source: String,
    expr: Expr,
    uses_is_nan: bool,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Hash,
    Punct(&'static str),
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                // An exponent's sign belongs to the number: 1e-3.
                if matches!(chars[i], 'e' | 'E') && matches!(chars.get(i + 1), Some('+' | '-')) {
                    i += 1;
                }
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = text
                .replace('_', "")
                .parse::<f64>()
                .map_err(|_| format!("invalid number {text:?}"))?;
            out.push(Tok::Num(n));
        } else if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("a string is not closed".into()),
                    Some(&q) if q == c => break,
                    Some('\\') => {
                        i += 1;
                        match chars.get(i) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(&e) => s.push(e),
                            None => return Err("a string is not closed".into()),
                        }
                    }
                    Some(&ch) => s.push(ch),
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c == '#' {
            out.push(Tok::Hash);
            i += 1;
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let p = ["==", "!=", "<=", ">=", "&&", "||"]
                .into_iter()
                .find(|p| *p == two);
            if let Some(p) = p {
                out.push(Tok::Punct(p));
                i += 2;
                continue;
            }
            let one = [
                "<", ">", "!", "+", "-", "*", "/", "%", "(", ")", "[", "]", "{", "}", ",", ".",
            ]
            .into_iter()
            .find(|p| p.starts_with(c))
            .ok_or_else(|| format!("unexpected character {c:?}"))?;
            out.push(Tok::Punct(one));
            i += 1;
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Inside `{...}`, where `#` is allowed.
    in_predicate: bool,
    uses_is_nan: bool,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, p: &str) -> bool {
        let hit = match self.peek() {
            Some(Tok::Punct(q)) => *q == p,
            Some(Tok::Ident(w)) => w == p,
            _ => false,
        };
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect(&mut self, p: &str) -> Result<(), String> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(match self.peek() {
                Some(t) => format!("expected {p:?}, found {}", describe(t)),
                None => format!("expected {p:?} at the end"),
            })
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat("||") || self.eat("or") {
            left = Expr::Binary(Op::Or, Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.comparison()?;
        while self.eat("&&") || self.eat("and") {
            left = Expr::Binary(Op::And, Box::new(left), Box::new(self.comparison()?));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.sum()?;
        let op = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
            ("in", Op::In),
        ]
        .into_iter()
        .find(|(p, _)| self.eat(p));
        match op {
            Some((_, op)) => Ok(Expr::Binary(op, Box::new(left), Box::new(self.sum()?))),
            None => Ok(left),
        }
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        loop {
            let op = if self.eat("+") {
                Op::Add
            } else if self.eat("-") {
                Op::Sub
            } else {
                return Ok(left);
            };
            left = Expr::Binary(op, Box::new(left), Box::new(self.product()?));
        }
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat("*") {
                Op::Mul
            } else if self.eat("/") {
                Op::Div
            } else if self.eat("%") {
                Op::Rem
            } else {
                return Ok(left);
            };
            left = Expr::Binary(op, Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("!") || self.eat("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut e = self.primary()?;
        loop {
            if self.eat("[") {
                let index = self.expr()?;
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(index));
            } else if self.eat(".") {
                match self.peek().cloned() {
                    Some(Tok::Ident(name)) => {
                        self.pos += 1;
                        e = Expr::Field(Box::new(e), name);
                    }
                    _ => return Err("expected a field name after \".\"".into()),
                }
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let tok = self.peek().cloned().ok_or("the condition ends too early")?;
        self.pos += 1;
        match tok {
            Tok::Num(n) => Ok(Expr::Lit(Value::Number(n))),
            Tok::Str(s) => Ok(Expr::Lit(Value::String(s))),
            Tok::Hash if self.in_predicate => Ok(Expr::Elem),
            Tok::Hash => {
                Err("# is the element inside a predicate like all(result, {# < 1})".into())
            }
            Tok::Punct("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Punct("[") => {
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.expr()?);
                        if self.eat("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Ok(Expr::List(items))
            }
            Tok::Ident(w) => match w.as_str() {
                "true" => Ok(Expr::Lit(Value::Bool(true))),
                "false" => Ok(Expr::Lit(Value::Bool(false))),
                "nil" => Ok(Expr::Lit(Value::Null)),
                "result" => Ok(Expr::Result),
                name => {
                    let f = Func::named(name).ok_or_else(|| {
                        format!("unknown name {name:?}: a condition knows result and the functions isNaN, isInf, len, abs, asInt, asFloat, all, any, none, filter")
                    })?;
                    self.call(f, name)
                }
            },
            t => Err(format!("unexpected {}", describe(&t))),
        }
    }

    fn call(&mut self, f: Func, name: &str) -> Result<Expr, String> {
        self.expect("(")?;
        if f == Func::IsNaN {
            self.uses_is_nan = true;
        }
        let first = self.expr()?;
        let mut args = vec![first];
        if f.takes_predicate() {
            self.expect(",")?;
            self.expect("{")?;
            let outer = std::mem::replace(&mut self.in_predicate, true);
            let pred = self.expr()?;
            self.in_predicate = outer;
            self.expect("}")?;
            args.push(pred);
        }
        if !self.eat(")") {
            return Err(format!(
                "{name}() takes {} argument{}",
                args.len(),
                if args.len() == 1 { "" } else { "s" }
            ));
        }
        Ok(Expr::Call(f, args))
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(n) => format!("number {}", number(*n)),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Ident(w) => format!("{w:?}"),
        Tok::Hash => "\"#\"".into(),
        Tok::Punct(p) => format!("{p:?}"),
    }
}

impl Condition {
    /// Parses `source`; the error says what is wrong where.
    pub fn parse(source: &str) -> Result<Condition, String> {
        let toks = lex(source)?;
        if toks.is_empty() {
            return Err("the condition is empty".into());
        }
        let mut p = Parser {
            toks,
            pos: 0,
            in_predicate: false,
            uses_is_nan: false,
        };
        let expr = p.expr()?;
        if let Some(t) = p.peek() {
            return Err(format!("unexpected {} after the condition", describe(t)));
        }
        Ok(Condition {
            source: source.trim().to_string(),
            expr,
            uses_is_nan: p.uses_is_nan,
        })
    }

    /// Whether the condition asks `isNaN` itself (then NaN results are its to judge).
    pub fn uses_is_nan(&self) -> bool {
        self.uses_is_nan
    }

    /// Evaluates against `result`: true or false, or why it cannot be told.
    pub fn eval(&self, result: &Value) -> Result<bool, String> {
        match eval(&self.expr, result, None)? {
            Value::Bool(b) => Ok(b),
            v => Err(format!(
                "the condition gives {} {v}, not true or false",
                v.kind()
            )),
        }
    }
}

fn eval(e: &Expr, result: &Value, elem: Option<&Value>) -> Result<Value, String> {
    let ev = |x: &Expr| eval(x, result, elem);
    Ok(match e {
        Expr::Lit(v) => v.clone(),
        Expr::Result => result.clone(),
        Expr::Elem => elem.cloned().unwrap_or(Value::Null),
        Expr::List(items) => Value::List(items.iter().map(ev).collect::<Result<_, _>>()?),
        Expr::Index(base, index) => index_of(&ev(base)?, &ev(index)?)?,
        Expr::Field(base, name) => match ev(base)? {
            Value::Map(m) => m.get(name).cloned().unwrap_or(Value::Null),
            v => return Err(format!("{} has no field {name:?}", v.kind())),
        },
        Expr::Not(x) => match ev(x)? {
            Value::Bool(b) => Value::Bool(!b),
            v => return Err(format!("! needs true or false, not {} {v}", v.kind())),
        },
        Expr::Neg(x) => match ev(x)?.scalar() {
            Value::Number(n) => Value::Number(-n),
            v => return Err(format!("- needs a number, not {} {v}", v.kind())),
        },
        Expr::Binary(Op::And, l, r) => Value::Bool(truth(&ev(l)?, "&&")? && truth(&ev(r)?, "&&")?),
        Expr::Binary(Op::Or, l, r) => Value::Bool(truth(&ev(l)?, "||")? || truth(&ev(r)?, "||")?),
        Expr::Binary(op, l, r) => binary(*op, &ev(l)?, &ev(r)?)?,
        Expr::Call(f, args) => call(*f, args, result, elem)?,
    })
}

fn truth(v: &Value, op: &str) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        v => Err(format!("{op} needs true or false, not {} {v}", v.kind())),
    }
}

fn index_of(base: &Value, index: &Value) -> Result<Value, String> {
    match (base, index) {
        (Value::List(l), Value::Number(n)) if n.fract() == 0.0 => {
            let i = if *n < 0.0 { l.len() as f64 + n } else { *n };
            l.get(i as usize)
                .filter(|_| i >= 0.0)
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "index {} out of range: the list has {} element{}",
                        number(*n),
                        l.len(),
                        if l.len() == 1 { "" } else { "s" }
                    )
                })
        }
        (Value::Map(m), Value::String(k)) => Ok(m.get(k).cloned().unwrap_or(Value::Null)),
        (b, i) => Err(format!("cannot index {} with {} {i}", b.kind(), i.kind())),
    }
}

fn binary(op: Op, l: &Value, r: &Value) -> Result<Value, String> {
    if op == Op::In {
        return match r {
            Value::List(items) => Ok(Value::Bool(items.iter().any(|i| equal(l, i)))),
            Value::Map(m) => match l {
                Value::String(k) => Ok(Value::Bool(m.contains_key(k))),
                _ => Ok(Value::Bool(false)),
            },
            v => Err(format!(
                "in needs a list or a map on its right, not {}",
                v.kind()
            )),
        };
    }
    if matches!(op, Op::Eq | Op::Ne) {
        let eq = equal(l.scalar(), r.scalar());
        return Ok(Value::Bool(if op == Op::Eq { eq } else { !eq }));
    }
    let (a, b) = (l.scalar(), r.scalar());
    let many = |v: &Value| matches!(v, Value::List(x) if x.len() != 1);
    if many(a) || many(b) {
        let n = [a, b]
            .iter()
            .find_map(|v| match v {
                Value::List(x) => Some(x.len()),
                _ => None,
            })
            .unwrap_or(0);
        return Err(format!(
            "a list of {n} values cannot be compared or computed with: take one (result[0]) or judge them all (all(result, {{# < 1}}), any(...))"
        ));
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (*x, *y);
            Ok(match op {
                Op::Lt => Value::Bool(x < y),
                Op::Le => Value::Bool(x <= y),
                Op::Gt => Value::Bool(x > y),
                Op::Ge => Value::Bool(x >= y),
                Op::Add => Value::Number(x + y),
                Op::Sub => Value::Number(x - y),
                Op::Mul => Value::Number(x * y),
                Op::Div => Value::Number(x / y),
                Op::Rem => Value::Number(x % y),
                _ => unreachable_op(op)?,
            })
        }
        (Value::String(x), Value::String(y)) => Ok(match op {
            Op::Lt => Value::Bool(x < y),
            Op::Le => Value::Bool(x <= y),
            Op::Gt => Value::Bool(x > y),
            Op::Ge => Value::Bool(x >= y),
            Op::Add => Value::String(format!("{x}{y}")),
            _ => return Err(format!("strings cannot be used with {}", op_text(op))),
        }),
        (x, y) => Err(format!(
            "{} cannot be used between {} {x} and {} {y}",
            op_text(op),
            x.kind(),
            y.kind()
        )),
    }
}

fn unreachable_op(op: Op) -> Result<Value, String> {
    Err(format!("operator {} is not defined here", op_text(op)))
}

fn op_text(op: Op) -> &'static str {
    match op {
        Op::Or => "||",
        Op::And => "&&",
        Op::Eq => "==",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::In => "in",
        Op::Add => "+",
        Op::Sub => "-",
        Op::Mul => "*",
        Op::Div => "/",
        Op::Rem => "%",
    }
}

/// Equality as expr-lang has it: numbers by IEEE (NaN equals nothing),
/// other values structurally, different kinds never.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        _ => a == b,
    }
}

fn call(f: Func, args: &[Expr], result: &Value, elem: Option<&Value>) -> Result<Value, String> {
    let arg = eval(&args[0], result, elem)?;
    let num = |v: &Value, name: &str| match v.scalar() {
        Value::Number(n) => Ok(*n),
        v => Err(format!("{name}() needs a number, not {} {v}", v.kind())),
    };
    Ok(match f {
        Func::IsNaN => Value::Bool(num(&arg, "isNaN")?.is_nan()),
        Func::IsInf => Value::Bool(num(&arg, "isInf")?.is_infinite()),
        Func::Abs => Value::Number(num(&arg, "abs")?.abs()),
        Func::Len => Value::Number(match &arg {
            Value::List(l) => l.len(),
            Value::Map(m) => m.len(),
            Value::String(s) => s.chars().count(),
            v => {
                return Err(format!(
                    "len() needs a list, map or string, not {}",
                    v.kind()
                ));
            }
        } as f64),
        Func::AsInt | Func::AsFloat => {
            let name = if f == Func::AsInt { "asInt" } else { "asFloat" };
            let n = match arg.scalar() {
                Value::String(s) => s
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| format!("{name}({s:?}): not a number"))?,
                Value::Number(n) => *n,
                v => return Err(format!("{name}() needs a string, not {}", v.kind())),
            };
            if f == Func::AsInt && n.fract() != 0.0 {
                return Err(format!("asInt({}): not a whole number", number(n)));
            }
            Value::Number(n)
        }
        Func::All | Func::Any | Func::None | Func::Filter => {
            let items = match arg {
                Value::List(l) => l,
                v => {
                    return Err(format!(
                        "the first argument must be a list, not {}",
                        v.kind()
                    ));
                }
            };
            let mut kept = Vec::new();
            let mut hits = 0;
            for item in &items {
                if truth(&eval(&args[1], result, Some(item))?, "a predicate")? {
                    hits += 1;
                    if f == Func::Filter {
                        kept.push(item.clone());
                    }
                }
            }
            match f {
                Func::All => Value::Bool(hits == items.len()),
                Func::Any => Value::Bool(hits > 0),
                Func::None => Value::Bool(hits == 0),
                _ => Value::List(kept),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cond: &str, result: Value) -> Result<bool, String> {
        Condition::parse(cond)?.eval(&result)
    }

    fn nums(v: &[f64]) -> Value {
        Value::List(v.iter().map(|n| Value::Number(*n)).collect())
    }

    #[test]
    fn argo_conditions() {
        assert_eq!(check("result < 0.05", Value::Number(0.01)), Ok(true));
        assert_eq!(check("result < 0.05", Value::Number(0.3)), Ok(false));
        assert_eq!(check("result[0] >= 1", nums(&[1.0, 0.0])), Ok(true));
        assert_eq!(check("result[-1] >= 1", nums(&[1.0, 0.0])), Ok(false));
        assert_eq!(check("all(result, {# < 1})", nums(&[0.5, 0.9])), Ok(true));
        assert_eq!(check("all(result, {# < 1})", nums(&[0.5, 1.5])), Ok(false));
        assert_eq!(check("any(result, {# >= 1})", nums(&[0.5, 1.5])), Ok(true));
        assert_eq!(
            check("none(result, {# >= 1})", nums(&[0.5, 1.5])),
            Ok(false)
        );
        assert_eq!(
            check("len(filter(result, {# > 0.4})) == 2", nums(&[0.5, 1.5])),
            Ok(true)
        );
        assert_eq!(check("isNaN(result)", Value::Number(f64::NAN)), Ok(true));
        assert_eq!(
            check("isNaN(result) || result < 1", Value::Number(0.5)),
            Ok(true)
        );
        assert_eq!(
            check("!(result > 1) && result >= 0", Value::Number(0.5)),
            Ok(true)
        );
        assert_eq!(
            check("not (result > 1) and result >= 0", Value::Number(2.0)),
            Ok(false)
        );
        assert_eq!(
            check("result * 100 <= 5 + 1", Value::Number(0.06)),
            Ok(true)
        );
        assert_eq!(check("result == 1e-3", Value::Number(0.001)), Ok(true));
        assert_eq!(check("result != -2", Value::Number(-2.0)), Ok(false));
    }

    #[test]
    fn one_sample_vectors_compare_as_their_value() {
        assert_eq!(check("result < 0.05", nums(&[0.01])), Ok(true));
        assert_eq!(check("result == 0.01", nums(&[0.01])), Ok(true));
        let e = check("result < 0.05", nums(&[0.01, 0.02])).unwrap_err();
        assert!(e.contains("result[0]") && e.contains("all("), "{e}");
        let e = check("result[0] < 1", nums(&[])).unwrap_err();
        assert!(e.contains("out of range"), "{e}");
    }

    #[test]
    fn web_results() {
        let json: serde_json::Value =
            serde_json::json!({"status": "UP", "checks": [{"ok": true}], "count": 3});
        let v = Value::from(&json);
        assert_eq!(check("result.status == \"UP\"", v.clone()), Ok(true));
        assert_eq!(check("result['status'] == 'DOWN'", v.clone()), Ok(false));
        assert_eq!(check("result.checks[0].ok", v.clone()), Ok(true));
        assert_eq!(
            check("'status' in result && result.count > 2", v.clone()),
            Ok(true)
        );
        assert_eq!(check("result.missing == nil", v.clone()), Ok(true));
        assert_eq!(
            check("result == \"UP\"", Value::String("UP".into())),
            Ok(true)
        );
        assert_eq!(
            check("asFloat(result) > 0.5", Value::String("0.9".into())),
            Ok(true)
        );
        assert_eq!(
            check("asInt(result) == 3", Value::String("3".into())),
            Ok(true)
        );
        assert!(check("asInt(result) == 3", Value::String("3.5".into())).is_err());
        assert_eq!(check("\"a\" + \"b\" == \"ab\"", Value::Null), Ok(true));
    }

    #[test]
    fn nan_compares_false_and_is_noticed() {
        assert_eq!(check("result < 1", Value::Number(f64::NAN)), Ok(false));
        assert_eq!(
            check("result == result", Value::Number(f64::NAN)),
            Ok(false)
        );
        assert!(Value::Number(f64::NAN).has_nan());
        assert!(nums(&[1.0, f64::NAN]).has_nan());
        assert!(!nums(&[1.0]).has_nan());
        assert!(
            Condition::parse("isNaN(result) || result < 1")
                .unwrap()
                .uses_is_nan()
        );
        assert!(!Condition::parse("result < 1").unwrap().uses_is_nan());
    }

    #[test]
    fn bad_conditions_say_why() {
        for (bad, why) in [
            ("", "empty"),
            ("result <", "ends too early"),
            ("result < 0.05)", "after the condition"),
            ("reslt < 1", "unknown name \"reslt\""),
            ("# < 1", "inside a predicate"),
            ("all(result)", "expected \",\""),
            ("len(result, 1)", "takes 1 argument"),
            ("result == \"UP", "not closed"),
            ("result @ 1", "unexpected character"),
            ("1.2.3 > 1", "invalid number"),
        ] {
            let e = Condition::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        // Type errors are found when evaluating, as in expr-lang with a
        // result of unknown type: the measurement is then an Error.
        let e = check("result", Value::Number(1.0)).unwrap_err();
        assert!(e.contains("not true or false"), "{e}");
        let e = check("result && true", Value::Number(1.0)).unwrap_err();
        assert!(e.contains("&&"), "{e}");
        let e = check("result < \"x\"", Value::Number(1.0)).unwrap_err();
        assert!(e.contains("between number"), "{e}");
        let e = check("result.status == 1", Value::Number(1.0)).unwrap_err();
        assert!(e.contains("no field"), "{e}");
    }

    #[test]
    fn values_print_as_prometheus_does() {
        assert_eq!(Value::Number(f64::NAN).to_string(), "NaN");
        assert_eq!(Value::Number(f64::INFINITY).to_string(), "+Inf");
        assert_eq!(Value::Number(0.25).to_string(), "0.25");
        assert_eq!(Value::Number(3.0).to_string(), "3");
        assert_eq!(nums(&[1.0, 0.5]).to_string(), "[1, 0.5]");
        assert_eq!(Value::String("UP".into()).to_string(), "\"UP\"");
    }
}
