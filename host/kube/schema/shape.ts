// A tiny descriptor language for the fields of our custom resources.
// host/kube/types.ts describes every kind's spec and status with it and derives
// the TypeScript types from the descriptors (`Infer`), so the types the code uses
// and the descriptors a test compares with crds/*.yaml cannot drift apart.

export interface StringShape<E extends string = string> {
  readonly type: "string";
  /** Allowed values; the inferred type is their union. */
  readonly enum?: readonly E[];
}
export interface IntegerShape {
  readonly type: "integer";
}
export interface BooleanShape {
  readonly type: "boolean";
}
export interface ArrayShape<I extends Shape = Shape> {
  readonly type: "array";
  readonly items: I;
}
/** An object with arbitrary keys (OpenAPI `additionalProperties`). */
export interface MapShape<V extends Shape = Shape> {
  readonly type: "map";
  readonly values: V;
}
export interface ObjectShape<P extends Props = Props> {
  readonly type: "object";
  readonly properties: P;
}
export type Shape = StringShape<string> | IntegerShape | BooleanShape | ArrayShape<any> | MapShape<any> | ObjectShape<any>;

export interface Prop<S extends Shape = Shape, R extends boolean = boolean> {
  readonly shape: S;
  readonly required: R;
}
export type Props = { readonly [name: string]: Prop };

export const string = (): StringShape => ({ type: "string" });
export const oneOf = <const E extends string>(values: readonly E[]): StringShape<E> => ({ type: "string", enum: values });
export const integer = (): IntegerShape => ({ type: "integer" });
export const boolean = (): BooleanShape => ({ type: "boolean" });
export const arrayOf = <I extends Shape>(items: I): ArrayShape<I> => ({ type: "array", items });
export const mapOf = <V extends Shape>(values: V): MapShape<V> => ({ type: "map", values });
export const object = <const P extends Props>(properties: P): ObjectShape<P> => ({ type: "object", properties });
export const required = <S extends Shape>(shape: S): Prop<S, true> => ({ shape, required: true });
export const optional = <S extends Shape>(shape: S): Prop<S, false> => ({ shape, required: false });

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type RequiredKeys<P extends Props> = { [K in keyof P]: P[K]["required"] extends true ? K : never }[keyof P];
type OptionalKeys<P extends Props> = Exclude<keyof P, RequiredKeys<P>>;
type InferProps<P extends Props> = Simplify<
  { -readonly [K in RequiredKeys<P>]: Infer<P[K]["shape"]> } & { -readonly [K in OptionalKeys<P>]?: Infer<P[K]["shape"]> }
>;

/** The TypeScript type a shape describes. */
export type Infer<S> = S extends StringShape<infer E>
  ? E
  : S extends IntegerShape
    ? number
    : S extends BooleanShape
      ? boolean
      : S extends ArrayShape<infer I>
        ? Infer<I>[]
        : S extends MapShape<infer V>
          ? Record<string, Infer<V>>
          : S extends ObjectShape<infer P>
            ? InferProps<P>
            : never;
