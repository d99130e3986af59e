<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>QObject</name>
    <message>
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <source>queued</source>
        <translation>排队中</translation>
    </message>
    <message>
        <source>running</source>
        <translation>运行中</translation>
    </message>
    <message>
        <source>finished</source>
        <translation>已完成</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>%1 h %2 min</source>
        <translation>%1 小时 %2 分</translation>
    </message>
    <message>
        <source>%1 min %2 s</source>
        <translation>%1 分 %2 秒</translation>
    </message>
    <message>
        <source>%1 s</source>
        <translation>%1 秒</translation>
    </message>
</context>
<context>
    <name>qs::gui::ExportModelDialog</name>
    <message>
        <source>Export model</source>
        <translation>导出模型</translation>
    </message>
    <message>
        <source>GGUF (llama.cpp)</source>
        <translation>GGUF（llama.cpp）</translation>
    </message>
    <message>
        <source>GPTQ-packed safetensors (vLLM, transformers)</source>
        <translation>GPTQ 打包的 safetensors（vLLM、transformers）</translation>
    </message>
    <message>
        <source>Format:</source>
        <translation>格式：</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <source>Save to:</source>
        <translation>保存到：</translation>
    </message>
    <message>
        <source>Re-quantize layers whose format has no exact type in the file (reports the error it adds)</source>
        <translation>重新量化文件中没有精确对应类型的层（报告由此增加的误差）</translation>
    </message>
    <message>
        <source>Quantize and export</source>
        <translation>量化并导出</translation>
    </message>
    <message>
        <source>Lossless when every layer uses a GGUF format (gguf_q4_0, gguf_q4_1, gguf_q8_0; fp16 / float stay F16 / F32): the file holds exactly the weights the run evaluates. The model is quantized and evaluated first, as Run does; the file is then read back and compared tensor by tensor.</source>
        <translation>当每一层都使用 GGUF 格式（gguf_q4_0、gguf_q4_1、gguf_q8_0；fp16 / float 保持为 F16 / F32）时无损：文件中的权重与运行评估的权重完全相同。模型先像“运行”一样被量化和评估；随后读回文件并逐个张量比较。</translation>
    </message>
    <message>
        <source>Lossless when every layer uses one integer format with fp16 scales and 2, 3, 4 or 8 bits (e.g. int4-g128-f16). Writes a directory (model.safetensors, config.json with quantization_config, quantize_config.json, the tokenizer). The model is quantized and evaluated first, as Run does; the checkpoint is then read back and compared tensor by tensor.</source>
        <translation>当每一层都使用同一种带 fp16 缩放、2、3、4 或 8 位的整数格式（例如 int4-g128-f16）时无损。写出一个目录（model.safetensors、带 quantization_config 的 config.json、quantize_config.json、分词器）。模型先像“运行”一样被量化和评估；随后读回检查点并逐个张量比较。</translation>
    </message>
    <message>
        <source>Export GGUF</source>
        <translation>导出 GGUF</translation>
    </message>
    <message>
        <source>GGUF files (*.gguf);;All files (*)</source>
        <translation>GGUF 文件 (*.gguf);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Directory to create the checkpoint in</source>
        <translation>创建检查点的目录</translation>
    </message>
    <message>
        <source>by each layer&apos;s bits (Q8_0 above 4 bits, else Q4_0 / Q4_1)</source>
        <translation>按各层位数（高于 4 位用 Q8_0，否则 Q4_0 / Q4_1）</translation>
    </message>
    <message>
        <source>Re-quantize onto:</source>
        <translation>重新量化为：</translation>
    </message>
</context>
<context>
    <name>qs::gui::MainWindow</name>
    <message>
        <source>&amp;Open model file…</source>
        <translation>打开模型文件(&amp;O)…</translation>
    </message>
    <message>
        <source>Open model &amp;directory…</source>
        <translation>打开模型目录(&amp;D)…</translation>
    </message>
    <message>
        <source>Open a Hugging Face model directory (config.json + model.safetensors)</source>
        <translation>打开 Hugging Face 模型目录（config.json + model.safetensors）</translation>
    </message>
    <message>
        <source>Open &amp;demo model</source>
        <translation>打开演示模型(&amp;M)</translation>
    </message>
    <message>
        <source>The built-in synthetic LLaMA-architecture model (no download)</source>
        <translation>内置的合成 LLaMA 架构模型（无需下载）</translation>
    </message>
    <message>
        <source>Open model…</source>
        <translation>打开模型…</translation>
    </message>
    <message>
        <source>Demo model</source>
        <translation>演示模型</translation>
    </message>
    <message>
        <source>&amp;Analyse</source>
        <translation>分析(&amp;A)</translation>
    </message>
    <message>
        <source>Per-layer sensitivity and outlier analysis on calibration text (background job)</source>
        <translation>基于校准文本的逐层敏感度与离群值分析（后台任务）</translation>
    </message>
    <message>
        <source>&amp;Cancel loading / analysis</source>
        <translation>取消加载 / 分析(&amp;C)</translation>
    </message>
    <message>
        <source>A&amp;uto-assign</source>
        <translation>自动分配(&amp;U)</translation>
    </message>
    <message>
        <source>Choose a format per layer minimising the total error within the budget (exact multiple-choice knapsack over the analysis&apos; candidates); one undo step</source>
        <translation>为每一层选择格式，在预算内使总误差最小（基于分析候选格式的精确多选背包算法）；可一步撤销</translation>
    </message>
    <message>
        <source>&amp;Run</source>
        <translation>运行(&amp;R)</translation>
    </message>
    <message>
        <source>Quantize the model with the table&apos;s recipe and measure its perplexity (background; runs queue up)</source>
        <translation>按表格中的配方量化模型并测量其困惑度（后台运行；多个运行依次排队）</translation>
    </message>
    <message>
        <source>&amp;Import recipe…</source>
        <translation>导入配方(&amp;I)…</translation>
    </message>
    <message>
        <source>&amp;Export recipe…</source>
        <translation>导出配方(&amp;E)…</translation>
    </message>
    <message>
        <source>&amp;Undo</source>
        <translation>撤销(&amp;U)</translation>
    </message>
    <message>
        <source>&amp;Redo</source>
        <translation>重做(&amp;R)</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>撤销</translation>
    </message>
    <message>
        <source>Redo</source>
        <translation>重做</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>Open &amp;recent</source>
        <translation>最近打开(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Edit</source>
        <translation>编辑(&amp;E)</translation>
    </message>
    <message>
        <source>&amp;Copy recipe</source>
        <translation>复制配方(&amp;C)</translation>
    </message>
    <message>
        <source>Copy the table&apos;s recipe (JSON) to the clipboard</source>
        <translation>将表格的配方（JSON）复制到剪贴板</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>设置(&amp;S)…</translation>
    </message>
    <message>
        <source>&amp;Analysis</source>
        <translation>分析(&amp;A)</translation>
    </message>
    <message>
        <source>&amp;Runs</source>
        <translation>运行(&amp;R)</translation>
    </message>
    <message>
        <source>Cancel &amp;all runs</source>
        <translation>取消所有运行(&amp;A)</translation>
    </message>
    <message>
        <source>Re&amp;fresh history</source>
        <translation>刷新历史(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <source>&amp;About QuantScope</source>
        <translation>关于 QuantScope(&amp;A)</translation>
    </message>
    <message>
        <source>About QuantScope</source>
        <translation>关于 QuantScope</translation>
    </message>
    <message>
        <source>QuantScope %1
A workbench for post-training quantization of LLMs.</source>
        <translation>QuantScope %1
用于大语言模型训练后量化（PTQ）的工作台。</translation>
    </message>
    <message>
        <source>Import recipe</source>
        <translation>导入配方</translation>
    </message>
    <message>
        <source>Recipes (*.json);;All files (*)</source>
        <translation>配方 (*.json);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Export recipe</source>
        <translation>导出配方</translation>
    </message>
    <message>
        <source>Main</source>
        <translation>主工具栏</translation>
    </message>
    <message>
        <source> Calibration: </source>
        <translation> 校准： </translation>
    </message>
    <message>
        <source>Calibration windows drawn from the text (seeded)</source>
        <translation>从文本中抽取的校准窗口数（固定随机种子）</translation>
    </message>
    <message>
        <source> tokens</source>
        <translation> 个 token</translation>
    </message>
    <message>
        <source>Tokens per calibration window</source>
        <translation>每个校准窗口的 token 数</translation>
    </message>
    <message>
        <source> Budget: </source>
        <translation> 预算： </translation>
    </message>
    <message>
        <source> bits</source>
        <translation> 位</translation>
    </message>
    <message>
        <source>Average bits per weight over the quantizable linears, scales and zero points included</source>
        <translation>可量化线性层的平均每权重位数（含缩放因子和零点）</translation>
    </message>
    <message>
        <source>No model</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>Filter:</source>
        <translation>筛选：</translation>
    </message>
    <message>
        <source>layer name, e.g. mlp or layers.1*.q_proj</source>
        <translation>层名称，例如 mlp 或 layers.1*.q_proj</translation>
    </message>
    <message>
        <source>Selected rows:</source>
        <translation>选中的行：</translation>
    </message>
    <message>
        <source>Set format</source>
        <translation>设置格式</translation>
    </message>
    <message>
        <source>Set the format on all selected rows (one undo step)</source>
        <translation>将格式应用到所有选中的行（可一步撤销）</translation>
    </message>
    <message>
        <source>Double-click a weight format to change its bits; click a header to sort.</source>
        <translation>双击权重格式可修改位数；点击表头可排序。</translation>
    </message>
    <message>
        <source>Sensitivity</source>
        <translation>敏感度</translation>
    </message>
    <message>
        <source>Outlier channels</source>
        <translation>离群通道</translation>
    </message>
    <message>
        <source>Per-layer error of runs</source>
        <translation>各运行的逐层误差</translation>
    </message>
    <message>
        <source>Jobs</source>
        <translation>任务</translation>
    </message>
    <message>
        <source>History</source>
        <translation>历史</translation>
    </message>
    <message>
        <source>Experiment log</source>
        <translation>实验日志</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Cancel the running analysis</source>
        <translation>取消正在进行的分析</translation>
    </message>
    <message>
        <source>Stop waiting for the model: it is not opened</source>
        <translation>停止等待模型：模型将不会被打开</translation>
    </message>
    <message>
        <source>no layers</source>
        <translation>没有层</translation>
    </message>
    <message>
        <source>Average %1 bits/weight  ·  model %2 MB (fp16: %3 MB)</source>
        <translation>平均 %1 位/权重  ·  模型 %2 MB（fp16：%3 MB）</translation>
    </message>
    <message>
        <source>Analysing: %1</source>
        <translation>正在分析：%1</translation>
    </message>
    <message>
        <source>Open a Hugging Face model directory</source>
        <translation>打开 Hugging Face 模型目录</translation>
    </message>
    <message>
        <source>Open a model file</source>
        <translation>打开模型文件</translation>
    </message>
    <message>
        <source>Busy</source>
        <translation>忙碌中</translation>
    </message>
    <message>
        <source>Wait for the running job to finish (or cancel it) before opening a model.</source>
        <translation>请等待当前任务完成（或将其取消）后再打开模型。</translation>
    </message>
    <message>
        <source>Building the demo model (synthetic, a few seconds)…</source>
        <translation>正在构建演示模型（合成模型，需几秒钟）…</translation>
    </message>
    <message>
        <source>Opening %1…</source>
        <translation>正在打开 %1…</translation>
    </message>
    <message>
        <source>the tokenizer next to the model has %1 tokens but the model&apos;s vocabulary is %2</source>
        <translation>模型旁的分词器有 %1 个 token，但模型的词表大小为 %2</translation>
    </message>
    <message>
        <source>Cannot open the model</source>
        <translation>无法打开模型</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt; — %2, %3 blocks, %4 parameters, %5 quantizable linears (%6 weights)%7</source>
        <translation>&lt;b&gt;%1&lt;/b&gt; — %2，%3 个块，%4 参数，%5 个可量化线性层（%6 权重）%7</translation>
    </message>
    <message>
        <source>demo model (synthetic LLaMA)</source>
        <translation>演示模型（合成 LLaMA）</translation>
    </message>
    <message>
        <source> — &lt;i&gt;no tokenizer found&lt;/i&gt;</source>
        <translation> — &lt;i&gt;未找到分词器&lt;/i&gt;</translation>
    </message>
    <message>
        <source>QuantScope — %1</source>
        <translation>QuantScope — %1</translation>
    </message>
    <message>
        <source>demo model</source>
        <translation>演示模型</translation>
    </message>
    <message>
        <source>Opened %1. Analyse to measure per-layer sensitivity.</source>
        <translation>已打开 %1。点击“分析”以测量逐层敏感度。</translation>
    </message>
    <message>
        <source>Calibration text for the analysis</source>
        <translation>用于分析的校准文本</translation>
    </message>
    <message>
        <source>Text (*.jsonl *.txt *.raw);;All files (*)</source>
        <translation>文本 (*.jsonl *.txt *.raw);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Open a model first.</source>
        <translation>请先打开一个模型。</translation>
    </message>
    <message>
        <source>A job is already running.</source>
        <translation>已有任务正在运行。</translation>
    </message>
    <message>
        <source>No tokenizer</source>
        <translation>没有分词器</translation>
    </message>
    <message>
        <source>The analysis needs the model&apos;s tokenizer to read calibration text:
</source>
        <translation>分析需要模型的分词器来读取校准文本：
</translation>
    </message>
    <message>
        <source>No calibration text</source>
        <translation>没有校准文本</translation>
    </message>
    <message>
        <source>Choose a calibration text (.jsonl or text file).</source>
        <translation>请选择校准文本（.jsonl 或文本文件）。</translation>
    </message>
    <message>
        <source>Analysing: reading the calibration text…</source>
        <translation>正在分析：读取校准文本…</translation>
    </message>
    <message>
        <source>Opening cancelled.</source>
        <translation>已取消打开。</translation>
    </message>
    <message>
        <source>Cancelling the analysis…</source>
        <translation>正在取消分析…</translation>
    </message>
    <message>
        <source>Analysis cancelled.</source>
        <translation>分析已取消。</translation>
    </message>
    <message>
        <source>The analysis failed</source>
        <translation>分析失败</translation>
    </message>
    <message>
        <source>Analysed %1 layers in %2 s (%3 × %4 calibration tokens). Set a budget and Auto-assign, or edit bits by hand.</source>
        <translation>已在 %2 秒内分析 %1 层（%3 × %4 个校准 token）。设置预算并自动分配，或手动编辑位数。</translation>
    </message>
    <message>
        <source>Set %1 layer(s) to %2.</source>
        <translation>已将 %1 层设为 %2。</translation>
    </message>
    <message>
        <source>Auto-assign</source>
        <translation>自动分配</translation>
    </message>
    <message>
        <source>Run Analyse first: the allocation needs the per-layer sensitivity.</source>
        <translation>请先运行分析：分配需要逐层敏感度。</translation>
    </message>
    <message>
        <source>the report&apos;s layer &apos;%1&apos; is not in the open model</source>
        <translation>报告中的层“%1”不在已打开的模型中</translation>
    </message>
    <message>
        <source>Auto-assign at %1 bits/weight</source>
        <translation>按 %1 位/权重自动分配</translation>
    </message>
    <message>
        <source>Auto-assign: %1 bits/weight within the budget of %2 (total %3 %4).</source>
        <translation>自动分配：%1 位/权重，预算 %2 以内（总计 %3 %4）。</translation>
    </message>
    <message>
        <source>Auto-assign failed</source>
        <translation>自动分配失败</translation>
    </message>
    <message>
        <source>Import %1</source>
        <translation>导入 %1</translation>
    </message>
    <message>
        <source>Imported %1.</source>
        <translation>已导入 %1。</translation>
    </message>
    <message>
        <source>Imported %1; warning: %2</source>
        <translation>已导入 %1；警告：%2</translation>
    </message>
    <message>
        <source>Cannot import the recipe</source>
        <translation>无法导入配方</translation>
    </message>
    <message>
        <source>%1: cannot write the recipe: %2</source>
        <translation>%1：无法写入配方：%2</translation>
    </message>
    <message>
        <source>Exported the recipe to %1.</source>
        <translation>已将配方导出到 %1。</translation>
    </message>
    <message>
        <source>Cannot export the recipe</source>
        <translation>无法导出配方</translation>
    </message>
    <message>
        <source>Experiment:</source>
        <translation>实验：</translation>
    </message>
    <message>
        <source>manual</source>
        <translation>手动</translation>
    </message>
    <message>
        <source>The curve a run belongs to in the perplexity chart (runs of one experiment are joined by a line)</source>
        <translation>运行在困惑度图中所属的曲线（同一实验的运行以折线相连）</translation>
    </message>
    <message>
        <source>Eval text:</source>
        <translation>评估文本：</translation>
    </message>
    <message>
        <source>demo: held-out half of its text</source>
        <translation>演示：其文本中留出的一半</translation>
    </message>
    <message>
        <source>The text whose perplexity each run measures (.jsonl rows or plain text)</source>
        <translation>每次运行测量困惑度所用的文本（.jsonl 行或纯文本）</translation>
    </message>
    <message>
        <source>…</source>
        <translation>…</translation>
    </message>
    <message>
        <source>Choose the evaluation text</source>
        <translation>选择评估文本</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <source>Sweep:</source>
        <translation>扫描：</translation>
    </message>
    <message>
        <source>auto-assign at budgets</source>
        <translation>按预算自动分配</translation>
    </message>
    <message>
        <source>uniform formats</source>
        <translation>统一格式</translation>
    </message>
    <message>
        <source>Budgets: one auto-assigned recipe per budget (needs the analysis). Formats: the table&apos;s method with one format for every layer</source>
        <translation>预算：每个预算生成一个自动分配的配方（需要先分析）。格式：使用表格中的方法，所有层采用同一格式</translation>
    </message>
    <message>
        <source>Comma-separated budgets in bits/weight, or weight formats (int3-g64, mxfp4, …)</source>
        <translation>以逗号分隔的预算（位/权重）或权重格式（int3-g64、mxfp4 等）</translation>
    </message>
    <message>
        <source>Sweep</source>
        <translation>扫描</translation>
    </message>
    <message>
        <source>Queue one run per value</source>
        <translation>为每个值排队一次运行</translation>
    </message>
    <message>
        <source>Evaluation text</source>
        <translation>评估文本</translation>
    </message>
    <message>
        <source>(none yet)</source>
        <translation>（暂无）</translation>
    </message>
    <message>
        <source>Clear the list</source>
        <translation>清空列表</translation>
    </message>
    <message>
        <source>CPU, %1 threads; device %2: %3</source>
        <translation>CPU，%1 个线程；设备 %2：%3</translation>
    </message>
    <message>
        <source>CPU, %1 threads</source>
        <translation>CPU，%1 个线程</translation>
    </message>
    <message>
        <source>Compute device: %1; using the CPU path.</source>
        <translation>计算设备：%1；改用 CPU 路径。</translation>
    </message>
    <message>
        <source>No OpenCL platform is installed: every operation runs on the CPU path.</source>
        <translation>未安装 OpenCL 平台：所有运算都走 CPU 路径。</translation>
    </message>
    <message>
        <source>Current: %1</source>
        <translation>当前：%1</translation>
    </message>
    <message>
        <source>OpenCL is unavailable (%1): every operation runs on the CPU path.</source>
        <translation>OpenCL 不可用（%1）：所有运算都走 CPU 路径。</translation>
    </message>
    <message>
        <source>The new experiment log is used from the next start: runs are in progress.</source>
        <translation>新的实验日志将在下次启动时生效：当前有运行正在进行。</translation>
    </message>
    <message>
        <source>Copied the recipe (JSON) to the clipboard.</source>
        <translation>已将配方（JSON）复制到剪贴板。</translation>
    </message>
    <message>
        <source>Cannot copy the recipe</source>
        <translation>无法复制配方</translation>
    </message>
    <message>
        <source>Experiment log unavailable</source>
        <translation>实验日志不可用</translation>
    </message>
    <message>
        <source>Runs will not be logged this session:
%1</source>
        <translation>本次会话的运行将不会被记录：
%1</translation>
    </message>
    <message>
        <source>none (runs are kept for this session only)</source>
        <translation>无（运行仅在本次会话中保留）</translation>
    </message>
    <message>
        <source>Cannot read the experiment log</source>
        <translation>无法读取实验日志</translation>
    </message>
    <message>
        <source>Open recipe</source>
        <translation>打开配方</translation>
    </message>
    <message>
        <source>no experiment log is open</source>
        <translation>没有打开的实验日志</translation>
    </message>
    <message>
        <source>run %1 has no recipe in %2</source>
        <translation>运行 %1 在 %2 中没有配方</translation>
    </message>
    <message>
        <source>run %1&apos;s recipe</source>
        <translation>运行 %1 的配方</translation>
    </message>
    <message>
        <source>Open the recipe of run %1</source>
        <translation>打开运行 %1 的配方</translation>
    </message>
    <message>
        <source>Applied the recipe of run %1 (%2).</source>
        <translation>已应用运行 %1 的配方（%2）。</translation>
    </message>
    <message>
        <source>Cannot open the run&apos;s recipe</source>
        <translation>无法打开该运行的配方</translation>
    </message>
    <message>
        <source>The run needs the model&apos;s tokenizer to read its texts:
%1</source>
        <translation>运行需要模型的分词器来读取文本：
%1</translation>
    </message>
    <message>
        <source>This recipe needs calibration text: run Analyse on a calibration file first (its text is reused).</source>
        <translation>此配方需要校准文本：请先对校准文件运行分析（其文本会被复用）。</translation>
    </message>
    <message>
        <source>Choose the evaluation text (Eval text) first.</source>
        <translation>请先选择评估文本。</translation>
    </message>
    <message>
        <source>The evaluation text %1 does not exist.</source>
        <translation>评估文本 %1 不存在。</translation>
    </message>
    <message>
        <source>Cannot run</source>
        <translation>无法运行</translation>
    </message>
    <message>
        <source>%1: %2 bits/w (%3)</source>
        <translation>%1：%2 位/权重（%3）</translation>
    </message>
    <message>
        <source>Give the values to sweep, e.g. 2.5, 3, 3.5 (budgets) or int3-g64, int4-g64 (formats).</source>
        <translation>请给出要扫描的值，例如 2.5, 3, 3.5（预算）或 int3-g64, int4-g64（格式）。</translation>
    </message>
    <message>
        <source>A budget sweep auto-assigns from the analysis: run Analyse first.</source>
        <translation>预算扫描基于分析结果自动分配：请先运行分析。</translation>
    </message>
    <message>
        <source>&apos;%1&apos; is not a budget in bits per weight</source>
        <translation>“%1”不是以位/权重表示的预算</translation>
    </message>
    <message>
        <source>auto-assign at %1 bits/weight (%2 error)</source>
        <translation>按 %1 位/权重自动分配（%2 误差）</translation>
    </message>
    <message>
        <source>budget %1 bits/w (%2)</source>
        <translation>预算 %1 位/权重（%2）</translation>
    </message>
    <message>
        <source>&apos;%1&apos; is not a weight format (e.g. int4-g128, mxfp4)</source>
        <translation>“%1”不是权重格式（例如 int4-g128、mxfp4）</translation>
    </message>
    <message>
        <source>auto-assign (%1 error)</source>
        <translation>自动分配（%1 误差）</translation>
    </message>
    <message>
        <source>uniform %1</source>
        <translation>统一 %1</translation>
    </message>
    <message>
        <source>%1: perplexity %2 at %3 bits/weight%4.</source>
        <translation>%1：困惑度 %2，%3 位/权重%4。</translation>
    </message>
    <message>
        <source> (run %1 in the log)</source>
        <translation>（日志中的运行 %1）</translation>
    </message>
    <message>
        <source>The run failed</source>
        <translation>运行失败</translation>
    </message>
    <message>
        <source>%1:
%2</source>
        <translation>%1：
%2</translation>
    </message>
    <message>
        <source>run %1: %2</source>
        <translation>运行 %1：%2</translation>
    </message>
    <message>
        <source>float</source>
        <translation>float</translation>
    </message>
    <message>
        <source>%1 error</source>
        <translation>%1 误差</translation>
    </message>
    <message>
        <source>Export &amp;model…</source>
        <translation>导出模型(&amp;M)…</translation>
    </message>
    <message>
        <source>Quantize with the table&apos;s recipe and write the model for a serving stack (GGUF for llama.cpp, GPTQ-packed safetensors for vLLM/transformers), read back and checked</source>
        <translation>按表格的配方量化，并为推理服务栈写出模型（llama.cpp 用 GGUF，vLLM/transformers 用 GPTQ 打包的 safetensors），读回并校验</translation>
    </message>
    <message>
        <source>Average bits per weight: parameter-weighted over the quantizable linears, scales and zero points included (float rows count as fp16).
Model size (MB = 10^6 bytes): the linears at their bits plus every other tensor (embeddings, lm_head, norms, biases) at fp16.</source>
        <translation>每权重平均位数：按参数量对可量化线性层加权，包含缩放和零点（浮点行按 fp16 计）。
模型大小（MB = 10^6 字节）：线性层按其位数，其余所有张量（嵌入、lm_head、归一化、偏置）按 fp16。</translation>
    </message>
    <message>
        <source>Cannot export</source>
        <translation>无法导出</translation>
    </message>
    <message>
        <source>The export failed</source>
        <translation>导出失败</translation>
    </message>
    <message>
        <source>%1:
the run finished (its results are logged) but the model was not written:
%2</source>
        <translation>%1：
运行已完成（结果已记录），但模型未写出：
%2</translation>
    </message>
    <message>
        <source>Model exported</source>
        <translation>模型已导出</translation>
    </message>
    <message>
        <source>Auto-assign</source>
        <comment>toolbar</comment>
        <translation>自动分配</translation>
    </message>
    <message>
        <source>Import recipe…</source>
        <comment>toolbar</comment>
        <translation>导入配方…</translation>
    </message>
    <message>
        <source>Export recipe…</source>
        <comment>toolbar</comment>
        <translation>导出配方…</translation>
    </message>
    <message>
        <source>Export model…</source>
        <comment>toolbar</comment>
        <translation>导出模型…</translation>
    </message>
    <message>
        <source>Open a .safetensors file (config.json beside it), a llama2.c .bin or a GGUF file</source>
        <translation>打开 .safetensors 文件（旁边有 config.json）、llama2.c .bin 或 GGUF 文件</translation>
    </message>
    <message>
        <source>Checkpoints (*.safetensors *.bin *.gguf);;All files (*)</source>
        <translation>检查点 (*.safetensors *.bin *.gguf);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Weight format to set on every selected row: pick one or type any format name (e.g. int3-sym-g64, mxfp4, gguf_q4_0, int4-g128-f16)</source>
        <translation>为所有选中的行设置的权重格式：从列表中选择或输入任意格式名（例如 int3-sym-g64、mxfp4、gguf_q4_0、int4-g128-f16）</translation>
    </message>
    <message>
        <source>&apos;%1&apos; is not a weight format (e.g. int4-g128, int3-sym-g64, mxfp4, gguf_q4_0, int4-g128-f16)</source>
        <translation>“%1”不是权重格式（例如 int4-g128、int3-sym-g64、mxfp4、gguf_q4_0、int4-g128-f16）</translation>
    </message>
    <message>
        <source>&apos;%1&apos; cannot be set on a layer (integer widths are 2 to 8 bits)</source>
        <translation>无法将“%1”设置到层上（整数位宽为 2 到 8 位）</translation>
    </message>
    <message>
        <source>The experiment log could not record the analysis: %1</source>
        <translation>实验日志无法记录此次分析：%1</translation>
    </message>
    <message>
        <source>report %1 of %2</source>
        <translation>%2 中的报告 %1</translation>
    </message>
    <message>
        <source>Restored the analysis of %1 from the experiment log (report %2, %3 × %4 calibration tokens); Analyse to redo it.</source>
        <translation>已从实验日志恢复 %1 的分析（报告 %2，%3 × %4 个校准 token）；点击“分析”可重新分析。</translation>
    </message>
    <message>
        <source>The analysis in the experiment log could not be restored: %1</source>
        <translation>无法恢复实验日志中的分析：%1</translation>
    </message>
    <message>
        <source>Set &amp;method of selected rows</source>
        <translation>设置选中行的方法(&amp;M)</translation>
    </message>
    <message>
        <source>mgptq: widths mixed per column group at the row&apos;s current bits per weight; none: keep the layer in float</source>
        <translation>mgptq：按列组混合位宽，保持该行当前的每权重位数；none：该层保持浮点</translation>
    </message>
    <message>
        <source>Set method</source>
        <translation>设置方法</translation>
    </message>
    <message>
        <source>Select the layers first.</source>
        <translation>请先选择层。</translation>
    </message>
    <message>
        <source>no rows selected</source>
        <translation>未选择任何行</translation>
    </message>
    <message>
        <source>Set %1 layer(s) to method %2.</source>
        <translation>已将 %1 个层设置为方法 %2。</translation>
    </message>
    <message>
        <source>none (keep in float)</source>
        <translation>none（保持浮点）</translation>
    </message>
    <message>
        <source>%1 already exists and is not an empty directory; choose a new directory for the checkpoint.</source>
        <translation>%1 已存在且不是空目录；请为检查点选择一个新目录。</translation>
    </message>
    <message>
        <source>%1 is a directory; give the .gguf file to write.</source>
        <translation>%1 是一个目录；请指定要写入的 .gguf 文件。</translation>
    </message>
    <message>
        <source>Export model</source>
        <translation>导出模型</translation>
    </message>
    <message>
        <source>%1 exists. Replace it when the export is written?</source>
        <translation>%1 已存在。写出导出文件时替换它吗？</translation>
    </message>
    <message>
        <source>No GGUF type stores these layers exactly as the table plans them: %1.
Use gguf_q8_0, gguf_q4_0, gguf_q4_1, mxfp4 or fp16 for them, or tick Re-quantize in the export dialog.</source>
        <translation>没有任何 GGUF 类型能按表格的计划精确存储这些层：%1。
请为它们使用 gguf_q8_0、gguf_q4_0、gguf_q4_1、mxfp4 或 fp16，或在导出对话框中勾选“重新量化”。</translation>
    </message>
    <message>
        <source>A GPTQ-packed checkpoint cannot hold this recipe: %1.</source>
        <translation>GPTQ 打包的检查点无法容纳此配方：%1。</translation>
    </message>
    <message>
        <source>%1 is already quantized (%2): the table keeps its weights as loaded (method none), so Run evaluates it as it is; set formats or methods to quantize it again.</source>
        <translation>%1 已经量化（%2）：表格按加载时的权重保留（方法 none），因此“运行”会按原样评估它；设置格式或方法即可重新量化。</translation>
    </message>
</context>
<context>
    <name>qs::gui::RunQueue</name>
    <message>
        <source>cancelled before it started</source>
        <translation>在开始前已取消</translation>
    </message>
    <message>
        <source>The experiment log could not record the run &apos;%1&apos;: %2</source>
        <translation>实验日志无法记录运行“%1”：%2</translation>
    </message>
    <message>
        <source>The experiment log could not record the end of run %1: %2</source>
        <translation>实验日志无法记录运行 %1 的结束：%2</translation>
    </message>
    <message>
        <source>ppl %1 at %2 bits/weight</source>
        <translation>困惑度 %1，%2 位/权重</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>%1; the export failed: %2</source>
        <translation>%1；导出失败：%2</translation>
    </message>
    <message>
        <source>%1; written and read back: %2</source>
        <translation>%1；已写出并读回：%2</translation>
    </message>
</context>
<context>
    <name>qs::gui::SettingsDialog</name>
    <message>
        <source>QuantScope settings</source>
        <translation>QuantScope 设置</translation>
    </message>
    <message>
        <source>auto: per operation, whichever is faster on this device</source>
        <translation>自动：每个运算选择本设备上更快的路径</translation>
    </message>
    <message>
        <source>OpenCL: every operation on the OpenCL device</source>
        <translation>OpenCL：所有运算都在 OpenCL 设备上</translation>
    </message>
    <message>
        <source>CPU only</source>
        <translation>仅 CPU</translation>
    </message>
    <message>
        <source>Compute:</source>
        <translation>计算：</translation>
    </message>
    <message>
        <source>default (QUANTSCOPE_OPENCL_DEVICE, else the first GPU)</source>
        <translation>默认（QUANTSCOPE_OPENCL_DEVICE，否则为第一块 GPU）</translation>
    </message>
    <message>
        <source>%1 (not present)</source>
        <translation>%1（不存在）</translation>
    </message>
    <message>
        <source>OpenCL device:</source>
        <translation>OpenCL 设备：</translation>
    </message>
    <message>
        <source>all (%1)</source>
        <translation>全部（%1）</translation>
    </message>
    <message>
        <source>CPU threads:</source>
        <translation>CPU 线程数：</translation>
    </message>
    <message>
        <source>Text (*.jsonl *.txt *.raw);;All files (*)</source>
        <translation>文本 (*.jsonl *.txt *.raw);;所有文件 (*)</translation>
    </message>
    <message>
        <source>none: ask when analysing</source>
        <translation>无：分析时询问</translation>
    </message>
    <message>
        <source>Calibration text:</source>
        <translation>校准文本：</translation>
    </message>
    <message>
        <source>Default calibration text</source>
        <translation>默认校准文本</translation>
    </message>
    <message>
        <source>none</source>
        <translation>无</translation>
    </message>
    <message>
        <source>Evaluation text:</source>
        <translation>评估文本：</translation>
    </message>
    <message>
        <source>Default evaluation text</source>
        <translation>默认评估文本</translation>
    </message>
    <message>
        <source>Experiment log:</source>
        <translation>实验日志：</translation>
    </message>
    <message>
        <source>Experiment log (SQLite)</source>
        <translation>实验日志（SQLite）</translation>
    </message>
    <message>
        <source>SQLite (*.sqlite *.db);;All files (*)</source>
        <translation>SQLite (*.sqlite *.db);;所有文件 (*)</translation>
    </message>
    <message>
        <source>The compute device, threads and experiment log apply at once; they are kept for the next start.</source>
        <translation>计算设备、线程数和实验日志立即生效，并保留到下次启动。</translation>
    </message>
</context>
<context>
    <name>qs::views::BitsEditor</name>
    <message>
        <source> bit</source>
        <translation> 位</translation>
    </message>
    <message>
        <source>Weight bit width (2–8); the group size is kept</source>
        <translation>权重位宽（2–8）；分组大小保持不变</translation>
    </message>
</context>
<context>
    <name>qs::views::HistoryView</name>
    <message>
        <source>Model:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <source>Show the runs of one model</source>
        <translation>显示某个模型的运行</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <source>Read the experiment log again (runs of other processes, e.g. the CLI, appear)</source>
        <translation>重新读取实验日志（会显示其他进程，例如 CLI 的运行）</translation>
    </message>
    <message>
        <source>Open recipe</source>
        <translation>打开配方</translation>
    </message>
    <message>
        <source>Apply the selected run&apos;s recipe to the layer table (one undo step); select several runs to compare their per-layer errors</source>
        <translation>将所选运行的配方应用到层表格（可一步撤销）；选择多个运行可比较它们的逐层误差</translation>
    </message>
    <message>
        <source>all models (%1 runs)</source>
        <translation>所有模型（%1 次运行）</translation>
    </message>
    <message>
        <source>Experiment log: %1</source>
        <translation>实验日志：%1</translation>
    </message>
    <message>
        <source>Open exported model (none)</source>
        <translation>打开导出的模型（无）</translation>
    </message>
    <message>
        <source>Open exported model %1</source>
        <translation>打开导出的模型 %1</translation>
    </message>
</context>
<context>
    <name>qs::views::JobListModel</name>
    <message>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>进度</translation>
    </message>
    <message>
        <source>Elapsed</source>
        <translation>已用时间</translation>
    </message>
    <message>
        <source>Remaining</source>
        <translation>剩余时间</translation>
    </message>
    <message>
        <source>Stage / result</source>
        <translation>阶段 / 结果</translation>
    </message>
    <message>
        <source>cancelling…</source>
        <translation>正在取消…</translation>
    </message>
    <message>
        <source>waiting for the runs before it</source>
        <translation>等待前面的运行</translation>
    </message>
    <message>
        <source>starting</source>
        <translation>正在启动</translation>
    </message>
</context>
<context>
    <name>qs::views::JobPanel</name>
    <message>
        <source>Cancel selected</source>
        <translation>取消所选</translation>
    </message>
    <message>
        <source>Stop the selected runs: a running one stops at its next checkpoint, a queued one never starts</source>
        <translation>停止所选运行：正在运行的会在下一个检查点停止，排队中的不会启动</translation>
    </message>
    <message>
        <source>Clear ended</source>
        <translation>清除已结束</translation>
    </message>
</context>
<context>
    <name>qs::views::LayerErrorChart</name>
    <message>
        <source>%1
%2: not in this run</source>
        <translation>%1
%2：不在此运行中</translation>
    </message>
    <message>
        <source>
relative output error %1</source>
        <translation>
相对输出误差 %1</translation>
    </message>
    <message>
        <source>
relative output error: not measured (no calibration data)</source>
        <translation>
相对输出误差：未测量（无校准数据）</translation>
    </message>
    <message>
        <source>
%1 bits/weight</source>
        <translation>
%1 位/权重</translation>
    </message>
    <message>
        <source>all %1 layers</source>
        <translation>全部 %1 层</translation>
    </message>
    <message>
        <source>%1 of %2 layers</source>
        <translation>%2 层中的 %1 层</translation>
    </message>
    <message>
        <source>%1 of &quot;%2&quot;</source>
        <translation>“%2”的 %1</translation>
    </message>
    <message>
        <source>No error for %1 (not measured: run without calibration data, or 0); no bar drawn</source>
        <translation>%1 没有误差（未测量：运行时无校准数据，或为 0）；未绘制柱形</translation>
    </message>
    <message>
        <source>Per-layer output error (no run selected)</source>
        <translation>逐层输出误差（未选择运行）</translation>
    </message>
    <message>
        <source>Per-layer relative output error tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) and bits per weight</source>
        <translation>逐层相对输出误差 tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) 与每权重位数</translation>
    </message>
    <message>
        <source>run %1</source>
        <translation>运行 %1</translation>
    </message>
    <message>
        <source> (no error measured)</source>
        <translation>（未测量误差）</translation>
    </message>
    <message>
        <source>Bits per weight, incl. scales (right axis; same in every run)</source>
        <translation>每权重位数，含缩放因子（右轴；各运行相同）</translation>
    </message>
    <message>
        <source>Bits per weight, incl. scales (right axis)</source>
        <translation>每权重位数，含缩放因子（右轴）</translation>
    </message>
    <message>
        <source>Layer (block.linear, model order)</source>
        <translation>层（块.线性层，按模型顺序）</translation>
    </message>
    <message>
        <source>Relative output error (log)</source>
        <translation>相对输出误差（对数）</translation>
    </message>
    <message>
        <source>Bits / weight (lines, run colours)</source>
        <translation>位 / 权重（折线，按运行着色）</translation>
    </message>
    <message>
        <source>Bits / weight</source>
        <translation>位 / 权重</translation>
    </message>
</context>
<context>
    <name>qs::views::LayerTableModel</name>
    <message>
        <source>block-output error</source>
        <translation>块输出误差</translation>
    </message>
    <message>
        <source>relative predicted error</source>
        <translation>相对预测误差</translation>
    </message>
    <message>
        <source>%1 per candidate (%2):</source>
        <translation>各候选格式的%1（%2）：</translation>
    </message>
    <message>
        <source>
  %1 (%2 bits/weight): %3</source>
        <translation>
  %1（%2 位/权重）：%3</translation>
    </message>
    <message>
        <source>activations: max/median of per-channel max|x| = %1
weights: max/median of per-column max|w| = %2</source>
        <translation>激活：逐通道 max|x| 的最大值/中位数 = %1
权重：逐列 max|w| 的最大值/中位数 = %2</translation>
    </message>
    <message>
        <source>
largest input channel: %1 (max|x| = %2)</source>
        <translation>
最大输入通道：%1（max|x| = %2）</translation>
    </message>
    <message>
        <source>Double-click to set the bit width (2–8); the group size is kept.</source>
        <translation>双击可设置位宽（2–8）；分组大小保持不变。</translation>
    </message>
    <message>
        <source>Block</source>
        <translation>块</translation>
    </message>
    <message>
        <source>Layer</source>
        <translation>层</translation>
    </message>
    <message>
        <source>Shape (out×in)</source>
        <translation>形状（out×in）</translation>
    </message>
    <message>
        <source>Params</source>
        <translation>参数</translation>
    </message>
    <message>
        <source>Sensitivity</source>
        <translation>敏感度</translation>
    </message>
    <message>
        <source>Error @ format</source>
        <translation>当前格式误差</translation>
    </message>
    <message>
        <source>Outlier</source>
        <translation>离群值</translation>
    </message>
    <message>
        <source>Weight format</source>
        <translation>权重格式</translation>
    </message>
    <message>
        <source>Bits/weight</source>
        <translation>位/权重</translation>
    </message>
    <message>
        <source>Activations</source>
        <translation>激活</translation>
    </message>
    <message>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>block-output error (else relative predicted error)</source>
        <translation>块输出误差（否则为相对预测误差）</translation>
    </message>
    <message>
        <source>Decoder block index</source>
        <translation>解码器块索引</translation>
    </message>
    <message>
        <source>The linear&apos;s name in the checkpoint</source>
        <translation>线性层在检查点中的名称</translation>
    </message>
    <message>
        <source>Weight matrix W [out, in]; input channel = column</source>
        <translation>权重矩阵 W [out, in]；输入通道 = 列</translation>
    </message>
    <message>
        <source>Weights in the matrix (out × in)</source>
        <translation>矩阵中的权重数（out × in）</translation>
    </message>
    <message>
        <source>Sensitivity: the %1 of the reference candidate %2 (dimensionless).
Block-output error = mean squared change of the block&apos;s output when only this layer is quantized, relative to the change the block makes to its input;
relative predicted error = tr(ΔW H ΔWᵀ) / tr(W H Wᵀ). Reference: the report&apos;s 3-bit candidate with the fewest bits/weight. Empty until Analyse has run.</source>
        <translation>敏感度：参考候选格式 %2 的%1（无量纲）。
块输出误差 = 仅量化本层时块输出的均方变化，相对于该块对其输入所产生的变化；
相对预测误差 = tr(ΔW H ΔWᵀ) / tr(W H Wᵀ)。参考：报告中位/权重最少的 3 位候选格式。运行分析前为空。</translation>
    </message>
    <message>
        <source>(3-bit)</source>
        <translation>（3 位）</translation>
    </message>
    <message>
        <source>The %1 of the row&apos;s current weight format (empty when that format is not a candidate of the analysis)</source>
        <translation>该行当前权重格式的%1（若该格式不是分析的候选格式则为空）</translation>
    </message>
    <message>
        <source>Activation outlier score: max / median over input channels of the per-channel max |x|</source>
        <translation>激活离群分数：各输入通道 max |x| 的最大值 / 中位数</translation>
    </message>
    <message>
        <source>Weight format (editable): integer grid with bits and group size, or an MX format</source>
        <translation>权重格式（可编辑）：指定位数和分组大小的整数网格，或 MX 格式</translation>
    </message>
    <message>
        <source>Storage bits per weight including scales and zero points (float rows: fp16)</source>
        <translation>每权重存储位数，含缩放因子和零点（浮点行：fp16）</translation>
    </message>
    <message>
        <source>Dynamic quantization of the layer&apos;s input (float = none)</source>
        <translation>本层输入的动态量化（float = 无）</translation>
    </message>
    <message>
        <source>Quantization method steps (transforms + rounding)</source>
        <translation>量化方法步骤（变换 + 舍入）</translation>
    </message>
    <message>
        <source>Set %1 to %2</source>
        <translation>将 %1 设为 %2</translation>
    </message>
    <message>
        <source>Set %1 layer(s) to %2</source>
        <translation>将 %1 层设为 %2</translation>
    </message>
    <message>
        <source>row %1 does not exist</source>
        <translation>第 %1 行不存在</translation>
    </message>
    <message>
        <source>Set %1 layer(s) to method %2</source>
        <translation>将 %1 个层设置为方法 %2</translation>
    </message>
</context>
<context>
    <name>qs::views::OutlierHeatmap</name>
    <message>
        <source>max |x| per channel (input units, log scale)</source>
        <translation>逐通道 max |x|（输入单位，对数刻度）</translation>
    </message>
    <message>
        <source>mean |x| per channel (input units, log scale)</source>
        <translation>逐通道 |x| 均值（输入单位，对数刻度）</translation>
    </message>
    <message>
        <source>kurtosis of x (3 = Gaussian, log scale)</source>
        <translation>x 的峰度（3 = 高斯，对数刻度）</translation>
    </message>
    <message>
        <source>max |w| per input column (log scale)</source>
        <translation>逐输入列 max |w|（对数刻度）</translation>
    </message>
    <message>
        <source>Activation max |x|</source>
        <translation>激活 max |x|</translation>
    </message>
    <message>
        <source>Activation mean |x|</source>
        <translation>激活 |x| 均值</translation>
    </message>
    <message>
        <source>Activation kurtosis</source>
        <translation>激活峰度</translation>
    </message>
    <message>
        <source>Weight max |w|</source>
        <translation>权重 max |w|</translation>
    </message>
    <message>
        <source>Outlier channels</source>
        <translation>离群通道</translation>
    </message>
    <message>
        <source>Per-input-channel statistic of the sensitivity report shown as colour</source>
        <translation>以颜色显示的敏感度报告逐输入通道统计量</translation>
    </message>
    <message>
        <source>Only layers reading the hidden state</source>
        <translation>仅显示读取隐藏状态的层</translation>
    </message>
    <message>
        <source>q, k, v, gate, up (fc1): the linears fed by the normalized residual stream</source>
        <translation>q、k、v、gate、up（fc1）：以归一化残差流为输入的线性层</translation>
    </message>
    <message>
        <source>The sensitivity report has no layers.</source>
        <translation>敏感度报告中没有层。</translation>
    </message>
    <message>
        <source>No sensitivity report yet.
Run Analyse to see the outlier channels (layers × input channels).</source>
        <translation>尚无敏感度报告。
运行分析以查看离群通道（层 × 输入通道）。</translation>
    </message>
    <message>
        <source>This report has no per-channel vectors (it was analysed with channel vectors off, e.g. quantscope-cli sensitivity --no-channel-vectors).
Re-run the analysis with them to see the heatmap.</source>
        <translation>此报告没有逐通道向量（分析时关闭了通道向量，例如 quantscope-cli sensitivity --no-channel-vectors）。
请在开启通道向量的情况下重新分析以查看热力图。</translation>
    </message>
    <message>
        <source>%1 input channels: %2</source>
        <translation>%1 个输入通道：%2</translation>
    </message>
    <message>
        <source>No layer of this model reads the hidden state directly.</source>
        <translation>此模型没有直接读取隐藏状态的层。</translation>
    </message>
    <message>
        <source>No positive finite value of %1 in this report: nothing to show on a log scale.</source>
        <translation>此报告中 %1 没有正的有限值：无法在对数刻度上显示。</translation>
    </message>
    <message>
        <source>Input channel (index)</source>
        <translation>输入通道（索引）</translation>
    </message>
    <message>
        <source>no value / ≤ 0</source>
        <translation>无值 / ≤ 0</translation>
    </message>
    <message>
        <source>top %1 activation outliers of the model</source>
        <translation>模型中前 %1 个激活离群值</translation>
    </message>
    <message>
        <source>
channel %1 of %2</source>
        <translation>
通道 %1 / %2</translation>
    </message>
    <message>
        <source>  (this pixel covers channels %1–%2%3; the largest is shown)</source>
        <translation>  （此像素覆盖通道 %1–%2%3；显示最大值）</translation>
    </message>
    <message>
        <source> of %1 rows</source>
        <translation>，共 %1 行</translation>
    </message>
    <message>
        <source>  (%1× the layer&apos;s median)</source>
        <translation>  （该层中位数的 %1 倍）</translation>
    </message>
    <message>
        <source>
activation max |x| %1%2
activation mean |x| %3
activation kurtosis %4</source>
        <translation>
激活 max |x| %1%2
激活 |x| 均值 %3
激活峰度 %4</translation>
    </message>
    <message>
        <source>
activations: no per-channel values</source>
        <translation>
激活：无逐通道数值</translation>
    </message>
    <message>
        <source>
weight max |w| %1%2</source>
        <translation>
权重 max |w| %1%2</translation>
    </message>
    <message>
        <source>
weight max |w|: </source>
        <translation>
权重 max |w|：</translation>
    </message>
    <message>
        <source>
top outlier #%1 of the model</source>
        <translation>
模型第 %1 大离群值</translation>
    </message>
</context>
<context>
    <name>qs::views::PerplexityChart</name>
    <message>
        <source>Perplexity vs bits (no runs yet: Run, Sweep, or tick runs in History)</source>
        <translation>困惑度 vs 位数（暂无运行：点击运行、扫描，或在历史中勾选运行）</translation>
    </message>
    <message>
        <source>Perplexity vs average bits per weight</source>
        <translation>困惑度 vs 平均每权重位数</translation>
    </message>
    <message>
        <source>Average bits per weight (incl. scales and zeros)</source>
        <translation>平均每权重位数（含缩放因子和零点）</translation>
    </message>
    <message>
        <source>Perplexity (log scale; lower is better)</source>
        <translation>困惑度（对数刻度；越低越好）</translation>
    </message>
    <message>
        <source>Perplexity (lower is better)</source>
        <translation>困惑度（越低越好）</translation>
    </message>
    <message>
        <source>%1
%2
%3 bits/weight, perplexity %4</source>
        <translation>%1
%2
%3 位/权重，困惑度 %4</translation>
    </message>
    <message>
        <source>float: %1</source>
        <translation>float: %1</translation>
    </message>
    <message>
        <source>%1: %2</source>
        <translation>%1: %2</translation>
    </message>
    <message>
        <source>Predicted total %1 (log)</source>
        <translation>预测的总%1（对数）</translation>
    </message>
    <message>
        <source>predicted frontier (right)</source>
        <translation>预测前沿（右轴）</translation>
    </message>
</context>
<context>
    <name>qs::views::RunHistoryModel</name>
    <message>
        <source>Tick runs to draw them in the perplexity chart</source>
        <translation>勾选运行以在困惑度图中绘制</translation>
    </message>
    <message>
        <source>Show</source>
        <translation>显示</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <source>Started</source>
        <translation>开始时间</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Experiment</source>
        <translation>实验</translation>
    </message>
    <message>
        <source>Recipe</source>
        <translation>配方</translation>
    </message>
    <message>
        <source>Bits/w</source>
        <translation>位/权重</translation>
    </message>
    <message>
        <source>PPL</source>
        <translation>PPL</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>耗时</translation>
    </message>
    <message>
        <source>run %1 (%2) of %3
recipe: %4
device: %5</source>
        <translation>运行 %1（%2），%3
配方：%4
设备：%5</translation>
    </message>
    <message>
        <source>
error: %1</source>
        <translation>
错误：%1</translation>
    </message>
    <message>
        <source>
%1: ppl %2</source>
        <translation>
%1：困惑度 %2</translation>
    </message>
    <message>
        <source>
exported: %1</source>
        <translation>
已导出：%1</translation>
    </message>
    <message>
        <source>
export to %1 failed: %2</source>
        <translation>
导出到 %1 失败：%2</translation>
    </message>
    <message>
        <source>%1 · %2 written</source>
        <translation>%1 · 已写出 %2</translation>
    </message>
    <message>
        <source>%1 · export failed</source>
        <translation>%1 · 导出失败</translation>
    </message>
</context>
<context>
    <name>qs::views::SensitivityChart</name>
    <message>
        <source>%1
format %2, %3 bits/weight</source>
        <translation>%1
格式 %2，%3 位/权重</translation>
    </message>
    <message>
        <source>
sensitivity (%1 at %2): %3</source>
        <translation>
敏感度（%2 下的%1）：%3</translation>
    </message>
    <message>
        <source>
error at the current format: %1</source>
        <translation>
当前格式下的误差：%1</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>Sensitivity (left axis)</source>
        <translation>敏感度（左轴）</translation>
    </message>
    <message>
        <source>Sensitivity (not measured yet)</source>
        <translation>敏感度（尚未测量）</translation>
    </message>
    <message>
        <source>Weight bits per parameter, incl. scales (right axis)</source>
        <translation>每参数权重位数，含缩放因子（右轴）</translation>
    </message>
    <message>
        <source>Layer (block.linear, model order)</source>
        <translation>层（块.线性层，按模型顺序）</translation>
    </message>
    <message>
        <source>Sensitivity (error ratio%1)</source>
        <translation>敏感度（误差比%1）</translation>
    </message>
    <message>
        <source>, log</source>
        <translation>，对数</translation>
    </message>
    <message>
        <source>Bits / weight</source>
        <translation>位 / 权重</translation>
    </message>
    <message>
        <source>Sensitivity per layer (run Analyse to measure it) and bits per weight</source>
        <translation>各层敏感度（运行“分析”以测量）与每权重位数</translation>
    </message>
    <message>
        <source>Sensitivity per layer (%1 at %2) and bits per weight</source>
        <translation>各层敏感度（%2 下的%1）与每权重位数</translation>
    </message>
</context>
</TS>
