using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using Microsoft.ML.Runtime;
using Microsoft.ML.Srt.Scoring;

namespace Microsoft.ML.Srt.Persistence;

/// <summary>
/// The one place where this library reaches into Microsoft.ML internals. It is written for Microsoft.ML 6.x
/// (<see cref="SupportedVersions"/>; the package asks for the same range): before its first use it checks, once, that
/// the loaded Microsoft.ML is such a version and has every member listed in <see cref="Members"/>, and otherwise throws
/// a <see cref="NotSupportedException"/> that names the found and the supported versions (<see cref="EnsureSupported"/>).
/// A test resolves every member and round-trips a model, so an upgrade that breaks one fails loudly.
/// </summary>
/// <remarks>
/// <para>Saving: <see cref="SrtTransformer.Save"/> receives ML.NET's <see cref="ModelSaveContext"/>, whose useful members
/// (<c>CheckAtModel</c>, <c>SetVersionInfo</c>, <c>Writer</c>, <c>SaveBinaryStream</c>) are internal: they are called
/// through reflection here.</para>
/// <para>Loading: ML.NET finds loaders through an <c>[assembly: LoadableClass(...)]</c> attribute (an internal type) on
/// the assembly that the model header names. C# cannot write that attribute, so <see cref="LoaderAssembly"/> is a tiny
/// assembly generated at run time (System.Reflection.Emit, from constants only: nothing in a model file shapes it)
/// that carries the attribute and a static <c>Create(IHostEnvironment, ModelLoadContext)</c> forwarding to
/// <see cref="SrtTransformerPersistence.Load"/>. <c>[IgnoresAccessChecksTo]</c> lets it name ML.NET's internal types
/// (without it the runtime silently drops the attribute). The model header names this assembly, ML.NET calls
/// <c>Assembly.Load</c> on that name and registers what it gets in the loading MLContext's catalog; the
/// <see cref="AppDomain.AssemblyResolve"/> handler that answers with the generated assembly is installed by this
/// library's module initializer, so it is in place once the app's code has used any type of Microsoft.ML.Srt
/// (<see cref="SrtModelOperationsExtensions.RegisterSrt"/> runs it explicitly).</para>
/// </remarks>
internal static class MlNetInternals
{
    /// <summary>The simple name of the generated loader assembly, written into every SRT model header.</summary>
    public const string LoaderAssemblyName = "Microsoft.ML.Srt.MlNetLoader";

    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
    private static readonly Assembly Core = typeof(IHostEnvironment).Assembly;

    private static readonly MethodInfo? SchemaShapeCreate = typeof(SchemaShape).GetMethod("Create",
        BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, [typeof(DataViewSchema)]);

    private static readonly Type? VersionInfoType = Core.GetType("Microsoft.ML.VersionInfo");
    private static readonly Type? LoadContextType = Core.GetType("Microsoft.ML.ModelLoadContext");
    private static readonly Type? SignatureLoadModelType = Core.GetType("Microsoft.ML.SignatureLoadModel");
    private static readonly Type? LoadableClassType = Core.GetType("Microsoft.ML.LoadableClassAttribute");
    private static readonly Type? CancelableType = Core.GetType("Microsoft.ML.Runtime.ICancelable");
    private static readonly PropertyInfo? CancelableIsCanceled = CancelableType?.GetProperty("IsCanceled");

    private static readonly ConstructorInfo? VersionInfoConstructor = VersionInfoType?.GetConstructor(Instance, null,
        [typeof(string), typeof(uint), typeof(uint), typeof(uint), typeof(string), typeof(string), typeof(string)], null);
    private static readonly PropertyInfo? SaveInRepository = typeof(ModelSaveContext).GetProperty("InRepository", Instance);
    private static readonly MethodInfo? SaveCheckAtModel = typeof(ModelSaveContext).GetMethod("CheckAtModel", Instance, Type.EmptyTypes);
    private static readonly MethodInfo? SaveSetVersionInfo = VersionInfoType is null ? null : typeof(ModelSaveContext).GetMethod("SetVersionInfo", Instance, [VersionInfoType]);
    private static readonly FieldInfo? SaveWriter = typeof(ModelSaveContext).GetField("Writer", Instance);
    private static readonly MethodInfo? SaveBinaryStream = typeof(ModelSaveContext).GetMethod("SaveBinaryStream", Instance, [typeof(string), typeof(Action<BinaryWriter>)]);
    private static readonly MethodInfo? LoadCheckAtModel = VersionInfoType is null ? null : LoadContextType?.GetMethod("CheckAtModel", Instance, [VersionInfoType]);
    private static readonly FieldInfo? LoadReader = LoadContextType?.GetField("Reader", Instance);
    private static readonly FieldInfo? LoadDirectory = LoadContextType?.GetField("Directory", Instance);
    private static readonly MethodInfo? LoadTryLoadBinaryStream = LoadContextType?.GetMethod("TryLoadBinaryStream", Instance, [typeof(string), typeof(Action<BinaryReader>)]);
    private static readonly ConstructorInfo? LoadableClassConstructor = LoadableClassType?.GetConstructor(Instance, null,
        [typeof(Type), typeof(Type), typeof(Type), typeof(Type), typeof(string), typeof(string[])], null);

    /// <summary>The lowest Microsoft.ML version the bridge supports.</summary>
    public static readonly Version MinimumVersion = new(6, 0, 0);

    /// <summary>The first Microsoft.ML version the bridge no longer supports (internals may change in a major version).</summary>
    public static readonly Version VersionLimit = new(7, 0, 0);

    /// <summary>The supported versions, as the error message and docs/build.md state them.</summary>
    public const string SupportedVersions = "6.x (6.0.0 or later, before 7.0.0)";

    private static readonly Lazy<string?> Problem = new(() => CompatibilityProblem(LoadedVersion(Core), MissingMembers()),
        LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<Assembly> Loader = new(EmitLoaderAssembly, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int _resolverInstalled;

    /// <summary>The internal members the bridge uses, each with what it is; a null member is missing from this Microsoft.ML.</summary>
    private static IEnumerable<(object? Member, string Description)> Members() =>
    [
        (SchemaShapeCreate, "SchemaShape.Create(DataViewSchema)"),
        (VersionInfoType, "type Microsoft.ML.VersionInfo"),
        (LoadContextType, "type Microsoft.ML.ModelLoadContext"),
        (SignatureLoadModelType, "type Microsoft.ML.SignatureLoadModel"),
        (LoadableClassType, "type Microsoft.ML.LoadableClassAttribute"),
        (VersionInfoConstructor, "VersionInfo(string, uint, uint, uint, string, string, string)"),
        (SaveInRepository, "ModelSaveContext.InRepository"),
        (SaveCheckAtModel, "ModelSaveContext.CheckAtModel()"),
        (SaveSetVersionInfo, "ModelSaveContext.SetVersionInfo(VersionInfo)"),
        (SaveWriter, "ModelSaveContext.Writer"),
        (SaveBinaryStream, "ModelSaveContext.SaveBinaryStream(string, Action<BinaryWriter>)"),
        (LoadCheckAtModel, "ModelLoadContext.CheckAtModel(VersionInfo)"),
        (LoadReader, "ModelLoadContext.Reader"),
        (LoadDirectory, "ModelLoadContext.Directory"),
        (LoadTryLoadBinaryStream, "ModelLoadContext.TryLoadBinaryStream(string, Action<BinaryReader>)"),
        (LoadableClassConstructor, "LoadableClassAttribute(Type, Type, Type, Type, string, params string[])"),
        (CancelableType, "type Microsoft.ML.Runtime.ICancelable"),
        (CancelableIsCanceled, "ICancelable.IsCanceled"),
    ];

    /// <summary>The internal members this file needs that this Microsoft.ML lacks (empty when all are there).</summary>
    public static IReadOnlyList<string> MissingMembers() => Members().Where(m => m.Member is null).Select(m => m.Description).ToList();

    /// <summary>
    /// The product version of <paramref name="core"/> (Microsoft.ML.Core) from its informational version, without the
    /// commit suffix ("6.0.0"); ML.NET's assembly version is always 1.0.0.0, so it cannot tell releases apart.
    /// </summary>
    internal static string? LoadedVersion(Assembly core)
    {
        var informational = core.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrWhiteSpace(informational)) return core.GetCustomAttribute<AssemblyFileVersionAttribute>()?.Version;
        int plus = informational.IndexOf('+');
        return plus < 0 ? informational : informational[..plus];
    }

    /// <summary>
    /// Null when Microsoft.ML <paramref name="foundVersion"/> is supported and no member is missing; otherwise the message
    /// that says what was found and what is supported.
    /// </summary>
    internal static string? CompatibilityProblem(string? foundVersion, IReadOnlyList<string> missingMembers)
    {
        // A pre-release comes before its release (6.0.0-preview < 6.0.0), and 7.0.0-preview is already the next major.
        var parts = (foundVersion ?? "").Split('-', 2);
        bool preRelease = parts.Length > 1;
        bool inRange = Version.TryParse(parts[0], out var version) && version < VersionLimit
            && (version > MinimumVersion || (version == MinimumVersion && !preRelease));
        if (inRange && missingMembers.Count == 0) return null;
        string found = string.IsNullOrWhiteSpace(foundVersion) ? "of an unknown version" : foundVersion;
        string why = !inRange
            ? "Microsoft.ML.Srt saves, loads and describes schemas through Microsoft.ML internals that change between major versions"
            : $"this Microsoft.ML lacks internal members Microsoft.ML.Srt needs: {string.Join("; ", missingMembers)}";
        return $"Microsoft.ML {found} is loaded, but Microsoft.ML.Srt supports Microsoft.ML {SupportedVersions} ({why}). " +
               "Reference a supported Microsoft.ML version, or a Microsoft.ML.Srt release built for yours.";
    }

    /// <summary>
    /// Throws <see cref="NotSupportedException"/> (found and supported versions) unless the loaded Microsoft.ML is supported;
    /// checked once per process, before any internal member is used.
    /// </summary>
    public static void EnsureSupported()
    {
        if (Problem.Value is { } problem) throw new NotSupportedException(problem);
    }

    private static T Need<T>(T? member, string description) where T : class
    {
        EnsureSupported();
        return member ?? throw new NotSupportedException($"Microsoft.ML's internal {description} was not found.");
    }

    private static object? Call(MethodInfo method, object? target, params object?[] args) =>
        method.Invoke(target, BindingFlags.DoNotWrapExceptions, null, args, null);

    // ---------------------------------------------------------------- schema shapes

    /// <summary>
    /// <c>SchemaShape.Create(DataViewSchema)</c>, which Microsoft.ML keeps internal (as it does the
    /// SchemaShape.Column constructor); estimators need it to describe their output columns.
    /// </summary>
    public static SchemaShape SchemaShapeOf(DataViewSchema schema) =>
        (SchemaShape)Call(Need(SchemaShapeCreate, "SchemaShape.Create(DataViewSchema)"), null, schema)!;

    // ---------------------------------------------------------------- cancellation

    /// <summary>
    /// Whether <paramref name="env"/> was cancelled by ML.NET's <c>CancelExecution</c> (internal in Microsoft.ML 6; a
    /// context's registered hosts are cancelled with it). ML.NET's components check it through the internal
    /// <c>ICancelable.IsCanceled</c>; an environment that is not cancelable never is.
    /// </summary>
    public static bool IsCancelled(IHostEnvironment env)
    {
        var isCanceled = Need(CancelableIsCanceled, "ICancelable.IsCanceled");
        return CancelableType!.IsInstanceOfType(env) && (bool)isCanceled.GetValue(env)!;
    }

    // ---------------------------------------------------------------- saving

    /// <summary>What ML.NET's model header records about a component: an 8-character file signature, versions, loader name.</summary>
    /// <param name="ModelSignature">Exactly 8 characters identifying the component's Model.key layout.</param>
    /// <param name="VersionWritten">The layout version this library writes.</param>
    /// <param name="VersionReadable">The oldest reader version able to read what this library writes.</param>
    /// <param name="VersionWeCanReadBack">The oldest written version this library reads.</param>
    /// <param name="LoaderSignature">The name ML.NET looks the loader up by.</param>
    public sealed record ComponentVersion(string ModelSignature, uint VersionWritten, uint VersionReadable, uint VersionWeCanReadBack, string LoaderSignature);

    private static object VersionInfo(ComponentVersion v) =>
        Need(VersionInfoConstructor, "VersionInfo constructor").Invoke(
            [v.ModelSignature, v.VersionWritten, v.VersionReadable, v.VersionWeCanReadBack, LoaderAssemblyName, v.LoaderSignature, null]);

    /// <summary>Checks that <paramref name="ctx"/> writes into a model zip and records <paramref name="version"/> in the component's header.</summary>
    public static void BeginSave(ModelSaveContext ctx, ComponentVersion version)
    {
        if (!(bool)Need(SaveInRepository, "ModelSaveContext.InRepository").GetValue(ctx)!)
            throw new NotSupportedException("An SrtTransformer can only be saved into an ML.NET model zip (mlContext.Model.Save), not into a single stream.");
        Call(Need(SaveCheckAtModel, "ModelSaveContext.CheckAtModel()"), ctx);
        Call(Need(SaveSetVersionInfo, "ModelSaveContext.SetVersionInfo(VersionInfo)"), ctx, VersionInfo(version));
    }

    /// <summary>The writer of the component's Model.key stream (after the header).</summary>
    public static BinaryWriter Writer(ModelSaveContext ctx) => (BinaryWriter)Need(SaveWriter, "ModelSaveContext.Writer").GetValue(ctx)!;

    /// <summary>Writes a binary entry named <paramref name="name"/> in the component's folder of the zip.</summary>
    public static void SaveEntry(ModelSaveContext ctx, string name, Action<Stream> write) =>
        Call(Need(SaveBinaryStream, "ModelSaveContext.SaveBinaryStream"), ctx, name, new Action<BinaryWriter>(w =>
        {
            write(w.BaseStream);
            w.Flush();
        }));

    // ---------------------------------------------------------------- loading (ctx is ML.NET's internal ModelLoadContext)

    /// <summary>Checks the component header's signature and versions (ML.NET's messages on failure).</summary>
    public static void BeginLoad(object ctx, ComponentVersion version) =>
        Call(Need(LoadCheckAtModel, "ModelLoadContext.CheckAtModel(VersionInfo)"), ctx, VersionInfo(version));

    /// <summary>The reader of the component's Model.key stream, positioned after the header.</summary>
    public static BinaryReader Reader(object ctx) => (BinaryReader)Need(LoadReader, "ModelLoadContext.Reader").GetValue(ctx)!;

    /// <summary>The component's folder in the zip, with '/' separators.</summary>
    public static string Directory(object ctx) =>
        ((string?)Need(LoadDirectory, "ModelLoadContext.Directory").GetValue(ctx) ?? "").Replace('\\', '/');

    /// <summary>Reads the entry <paramref name="name"/> of the component's folder; false when it does not exist.</summary>
    public static bool TryLoadEntry(object ctx, string name, Action<Stream> read) =>
        (bool)Call(Need(LoadTryLoadBinaryStream, "ModelLoadContext.TryLoadBinaryStream"), ctx, name, new Action<BinaryReader>(r => read(r.BaseStream)))!;

    // ---------------------------------------------------------------- the generated loader assembly

    /// <summary>
    /// Installs the <see cref="AppDomain.AssemblyResolve"/> handler that answers ML.NET's <c>Assembly.Load</c> of
    /// <see cref="LoaderAssemblyName"/>. Runs when the module is first used; it only adds a handler (the assembly is
    /// generated on the first load).
    /// </summary>
#pragma warning disable CA2255 // A library module initializer is the point here: loading must work without an app-side call.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void InstallResolver()
    {
        if (Interlocked.Exchange(ref _resolverInstalled, 1) == 0)
            AppDomain.CurrentDomain.AssemblyResolve += ResolveLoader;
    }

    private static Assembly? ResolveLoader(object? sender, ResolveEventArgs args)
    {
        string? name;
        try { name = new AssemblyName(args.Name).Name; }
        catch (Exception e) when (e is ArgumentException or FileLoadException) { return null; }
        return string.Equals(name, LoaderAssemblyName, StringComparison.OrdinalIgnoreCase) ? Loader.Value : null;
    }

    /// <summary>The generated loader assembly (see the class remarks); built once per process.</summary>
    public static Assembly LoaderAssembly => Loader.Value;

    private static Assembly EmitLoaderAssembly()
    {
        var contextType = Need(LoadContextType, "type Microsoft.ML.ModelLoadContext");
        var signatureType = Need(SignatureLoadModelType, "type Microsoft.ML.SignatureLoadModel");
        var loadableClass = Need(LoadableClassConstructor, "LoadableClassAttribute constructor");
        var target = typeof(SrtTransformerPersistence).GetMethod(nameof(SrtTransformerPersistence.Load),
            BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, [typeof(IHostEnvironment), typeof(object)])
            ?? throw new InvalidOperationException("SrtTransformerPersistence.Load(IHostEnvironment, object) is missing.");

        var assembly = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName(LoaderAssemblyName) { Version = new Version(1, 0, 0, 0) }, AssemblyBuilderAccess.Run);
        var module = assembly.DefineDynamicModule(LoaderAssemblyName);

        // [IgnoresAccessChecksTo] is matched by name; the runtime reads it from the assembly it is declared on.
        var ignores = module.DefineType("System.Runtime.CompilerServices.IgnoresAccessChecksToAttribute",
            TypeAttributes.Public | TypeAttributes.Sealed | TypeAttributes.Class, typeof(Attribute));
        ignores.SetCustomAttribute(new CustomAttributeBuilder(typeof(AttributeUsageAttribute).GetConstructor([typeof(AttributeTargets)])!,
            [AttributeTargets.Assembly], [typeof(AttributeUsageAttribute).GetProperty(nameof(AttributeUsageAttribute.AllowMultiple))!], [true]));
        var ignoresConstructor = ignores.DefineConstructor(MethodAttributes.Public, CallingConventions.Standard, [typeof(string)]);
        var il = ignoresConstructor.GetILGenerator();
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Call, typeof(Attribute).GetConstructor(Instance, Type.EmptyTypes)!);
        il.Emit(OpCodes.Ret);
        var ignoresType = ignores.CreateType();
        foreach (var name in new[] { Core.GetName().Name!, typeof(MlNetInternals).Assembly.GetName().Name! })
            assembly.SetCustomAttribute(new CustomAttributeBuilder(ignoresType.GetConstructor([typeof(string)])!, [name]));

        // public static SrtTransformer Create(IHostEnvironment env, ModelLoadContext ctx) => SrtTransformerPersistence.Load(env, ctx);
        var loader = module.DefineType(LoaderAssemblyName + ".SrtTransformerLoader",
            TypeAttributes.Public | TypeAttributes.Abstract | TypeAttributes.Sealed | TypeAttributes.Class);
        var create = loader.DefineMethod("Create", MethodAttributes.Public | MethodAttributes.Static, typeof(SrtTransformer), [typeof(IHostEnvironment), contextType]);
        il = create.GetILGenerator();
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Call, target);
        il.Emit(OpCodes.Ret);
        var loaderType = loader.CreateType();

        // [assembly: LoadableClass(typeof(SrtTransformer), typeof(SrtTransformerLoader), null, typeof(SignatureLoadModel), "SRT Transformer", "SrtTransformer")]
        assembly.SetCustomAttribute(new CustomAttributeBuilder(loadableClass,
            [typeof(SrtTransformer), loaderType, null, signatureType, "SRT Transformer", new[] { SrtTransformerPersistence.Version.LoaderSignature }]));
        return assembly;
    }
}
