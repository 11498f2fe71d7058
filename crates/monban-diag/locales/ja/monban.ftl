# monban のメッセージ(日本語)。識別子と { $引数 } はそのままにし、"=" の後を訳してください。

## 各ページの枠
skip-to-content = 本文へ移動
nav-label = メイン
nav-analyze = ヘッダー解析
nav-check = ドメインチェック
nav-reports = レポートダッシュボード
language = 言語
footer = monban: すべてこのサーバーで計算しています。外部には何も送信しません。
error-title = エラーが発生しました
back-to-start = トップページへ戻る
not-found = そのようなページはありません。
no-answer-in-time = { $seconds } 秒以内に応答がありませんでした。DNS サーバーの応答が遅い可能性があります。しばらくしてからもう一度お試しください。
csrf-refused = フォームを受け付けられませんでした: このサイトのページから送信されていないか、ページが古すぎます。ページを再読み込みして、もう一度送信してください。
login-needed = レポートダッシュボードにはログインが必要です。
copy = コピー
copied = コピーしました
yes = はい
no = いいえ
warning = 警告:
info = 注意:

## 信号(色だけに頼らない)
light-green = 正常
light-yellow = 要改善
light-red = 問題あり
light-grey = 不明

## 時間
dur-s = { $s } 秒
dur-min-s = { $m } 分 { $s } 秒
dur-h-min = { $h } 時間 { $m } 分
dur-min = { $m } 分
dur-h = { $h } 時間
dur-d = { $d } 日
dur-negative = -{ $d }
dur-d-h = { $d } 日 { $h } 時間

## トップページ
start-title = メール認証をチェック
start-intro = monban は SPF・DKIM・DMARC を自分で検証します。メッセージに書かれた結果をそのまま信じることはしません。
start-analyze = メッセージまたはヘッダーを貼り付けてください: 配送経路、各受信サーバーが記録した結果、monban の現在の検証結果、そして DKIM 署名を壊した変更を表示します。
start-check = ドメインの SPF・DMARC・DKIM レコードを確認し、公開すべき修正済みレコードを示します。
start-reports = あなたのドメイン宛てに届いた DMARC レポートと TLS レポート: 誰があなたのドメインで送信しているか、誰が失敗しているか、より厳しいポリシーに移行して安全か。
start-privacy = 解析したメッセージは保存されません。パーマリンクにはメッセージ自体がリンクの中に含まれます。

## ヘッダー解析
analyze-title = ヘッダー解析
analyze-message-label = メッセージまたはヘッダー
analyze-message-help = メッセージ全体(DKIM も確認できるので推奨)またはヘッダーだけを貼り付けてください。ファイルをここにドロップすることもできます。
analyze-file-label = またはファイルをアップロード
analyze-verify-label = 現在の DNS で再検証する(SPF・DKIM・DMARC)
analyze-verify-help = monban が鍵とポリシーを今の DNS で引き、メッセージに記録された結果と比較します。
analyze-submit = 解析する
analyze-again = 別のメッセージを解析
analyze-bad-form = フォームを読み取れませんでした: { $why }
request-too-large = リクエストが { $max } バイトを超えています。このサーバーが受け付ける上限です。
request-refused = リクエストは拒否されました（{ $status }）。
analyze-form-too-large = メッセージがこのサーバーの受け付ける大きさを超えています。ヘッダーだけを貼り付けるか、管理者に --max-body を引き上げるよう依頼してください。
analyze-empty = メッセージがありません。貼り付けるかファイルを選んでください。
analyze-unreadable = メッセージを読み取れません: { $why }
analyze-header-too-large = ヘッダーが { $max } バイトを超えています。
analyze-overview = メッセージ
analyze-overview-caption = メッセージに書かれているままのフィールド(未検証)
field-from = 差出人 (From)
field-subject = 件名 (Subject)
field-date = 日付 (Date)
field-message-id = Message-ID
field-return-path = Return-Path
field-sender = Sender
field-reply-to = Reply-To
permalink = この解析へのパーマリンク
permalink-help = (メッセージはリンク自体に含まれ、何も保存されません)
permalink-too-long = このメッセージは大きすぎてパーマリンクにできません。
permalink-bad = パーマリンクが壊れているか、大きすぎます。
analyze-alignment = From ドメインとのアライメント
analyze-no-from-domain = 使用できる From ドメインがありません: DMARC を適用できません。
align-from = From ドメイン: { $domain }
align-spf = SPF (Return-Path)
align-dkim = DKIM 署名 { $n }
align-nothing = 比較できる SPF・DKIM の識別子がありません。
align-caption = DMARC に合格するには、このいずれかが合格かつアライメントしている必要があります。strict は同一の名前、relaxed は同一の組織ドメインを意味します。
analyze-hops = 配送経路(古い順)
analyze-no-hops = ヘッダーに Received フィールドがありません。
analyze-total-delay = 合計: { $delay }
analyze-hops-caption = 各ホップ間の時間。負の時間は 2 台のホストの時計がずれていることを意味し、遅延ではなく時計のずれとして表示します。
analyze-hops-table = 全ホップ(古い順)
clock-skew = 時計のずれ { $delay }
delay-unknown = 不明
analyze-recorded = 受信サーバーが記録した結果
analyze-trust-help = 信頼するホストが最初のホップより上に書いた結果だけが有効です。それ以外は主張にすぎません: これらのフィールドは誰でも書けます。
analyze-nothing-recorded = Authentication-Results、ARC-Authentication-Results、Received-SPF フィールドはありません。
recorded-by = 記録者: { $id }
recorded-unparseable = RFC 8601 に従っていません({ $why })。寛容に読み取りました。
trusted = 信頼できる
claimed = 主張のみ(未検証)
claimed-result = { $result }(主張)
claimed-before-first-hop = 最初の受信ホストより下に書かれています: 到着前からメッセージに含まれていました。
claimed-unknown-id = このサーバーが信頼していないホストが書いたものです(--trust-authserv-id で追加できます)。
analyze-verification = monban 自身による検証
verify-envelope = 使用したエンベロープ: IP { $ip }、HELO { $helo }、MAIL FROM { $from }({ $source } から)。
envelope-given = --ip、--helo、--mail-from（指定のなかったものはヘッダーから）
envelope-from-received-spf = { $named ->
        [yes] { $receiver }
       *[no] 名前のない受信サーバー
    } の Received-SPF フィールド
envelope-from-hop = ホップ { $hop }（{ $by } が受信）
envelope-from-hop-past-received-spf = ホップ { $hop }（{ $by } が受信）。{ $named ->
        [yes] { $receiver }
       *[no] 名前のない受信サーバー
    } の Received-SPF フィールドは client-ip { $ip } を示していますが、その上の Received フィールドで裏付けられないため使いません
envelope-none = ヘッダーにクライアントのアドレスがありません。SPF は確認していません
verify-differences = 記録された結果と monban の結果: { $n } 件の相違
diff-same = 同じです。
diff-not-recorded = この結果は誰も記録していません。
diff-not-comparable = monban にはこれに対応する結果がありません。
diff-dkim-changed = 到着時には合格し、現在は失敗します: 署名・記録の後にメッセージが変更されたか(下の診断を参照)、その後に鍵が削除または差し替えられました。
diff-dkim-now-passes = 記録では失敗し、現在は合格します: 受信サーバーがその時点で鍵を取得できなかったか、その後に鍵が公開されました。
diff-spf-envelope = SPF は接続元 IP と MAIL FROM に依存します: monban はそれらを Received フィールドから取得するため、受信サーバーが見たものと異なる場合があります。また、その後に SPF レコードが変更された可能性もあります。
diff-dmarc-follows = DMARC は上の SPF と DKIM の結果から決まります。
diff-other = 結果が異なります。メッセージ受信後に DNS が変更された可能性があります。
analyze-signatures = DKIM 署名
analyze-no-signatures = このメッセージには DKIM 署名がありません。
signature-title = 署名 { $n }: d={ $d }、s={ $s }
signer-author = 作成者のドメインによる署名
signer-third-party = 第三者による署名
signature-tags = { $n } 個のタグの説明
diagnosis-title = 何が、どこで変わったか
grade-proven = 確定:
grade-likely = 推定:
grade-unknown = 不明:
diagnosis-nothing = 原因を特定できませんでした。
analyze-warnings = 警告

## 表の列
col-from = 送信元
col-by = 受信ホスト
col-with = プロトコル
col-time = 時刻
col-delay = 遅延
col-method = 方式
col-result = 結果
col-details = 詳細
col-about = 対象
col-recorded = 記録された結果
col-monban = monban の現在の結果
col-why = 理由
col-tag = タグ
col-value = 値
col-meaning = 意味
col-identifier = 識別子
col-domain = ドメイン
col-strict = strict
col-relaxed = relaxed
col-ip = IP アドレス
col-rdns = 逆引き DNS
col-org-domain = 組織
col-messages = 通数
col-dmarc-pass = DMARC 合格
col-dmarc-fail = DMARC 失敗
col-auth = 認証
col-reporter = 報告者
col-reporters = 報告者
col-reports = レポート数
col-other-disposition = その他
col-other-disposition-title = none・quarantine・reject 以外の処理結果 (pass など、一部のレポーターが書くもの)
col-measure = 指標
col-disposition = 処置
col-successful = 成功
col-failed = 失敗
col-failures = 失敗の内訳
col-sender = 送信者
col-failing = 失敗数
col-action = 対処

## ドメインチェック
check-title = ドメインチェック
check-domain-label = ドメイン
check-selectors-label = DKIM セレクタ
check-selectors-help = スペース区切り(例: "s1 google")。わからなければ空欄のままにしてください。
check-discover-label = よく使われるセレクタ名も試す
check-ips-label = 送信元 IP アドレス
check-ips-help = 任意、最大 10 個: それらから送ったメールを受信側がどう判定するかを予測します。
check-submit = チェック
check-again = もう一度チェック
check-fix = 公開または変更する内容:
check-bad-ip = { $ip } は IP アドレスではありません。
check-too-many-ips = IP アドレスは最大 10 個までです。
check-spf-lookups = DNS 参照 { $n } 回(上限 10 回、RFC 7208 §4.6.4)。
check-spf-networks = SPF ポリシーが許可する { $n } 個のネットワーク
check-dmarc-at = DMARC レコードは { $domain } にあります。
check-sending-caption = 送信元アドレスごとの SPF
check-disposition = 受信側の処置:
area-mx = メールエクスチェンジャー (MX)
area-spf = SPF
area-dmarc = DMARC
area-dkim = DKIM
area-adsp = ADSP(廃止済み)
area-sending = 送信構成

## レポートダッシュボード
reports-title = レポートダッシュボード
reports-domain-label = ドメイン
reports-since-label = 開始日
reports-until-label = 終了日
reports-submit = 表示
reports-with-rdns = 送信元の逆引き DNS 名も表示する(時間がかかります)
reports-none = この条件に合うレポートはありません。
reports-no-store = レポートの保存先がありません: { $why }
reports-domains = ドメイン
reports-counts = レポート { $reports } 件、メッセージ { $messages } 通
reports-policy = ポリシー p={ $policy }({ $source })
policy-source-dns = 現在公開中のもの
policy-source-reports = レポートに記載されたもの
reports-rates-caption = 合格したメッセージの割合
reports-rates-table = 合格率
reports-disposition-caption = 受信側がメッセージをどう処置したか
reports-disposition-table = 処置
stat-dmarc-pass = DMARC 合格
stat-dkim-aligned = DKIM アライメント合格
stat-spf-aligned = SPF アライメント合格
reports-reporters = 報告元
reports-top-sources = 主な送信元
reports-failing-sources = DMARC に失敗している送信元
reports-no-failing = DMARC に失敗している送信元はありません。
reports-forwarders = 転送サービスと思われるもの
forwarder = (転送)
reports-advice = 次のポリシー段階:
advice-safe = 移行して安全
advice-not-yet = まだ早い
reports-hurt = 次の段階で影響を受ける正規の送信者
reports-tls = TLS レポート (RFC 8460)
reports-tls-left-out = この期間の TLS ポリシー行は新しいもの { $rows } 行だけを集計しています。それより古い行は含まれていません(見るには期間を短くしてください)。
reports-rdns-not-looked-up = 逆引き DNS を引かなかった送信元: { $n } 件(各ドメインの先頭 { $each } 件、全体で { $total } 件までを { $seconds } 秒以内に引きます)。その名前は — と表示されます。
reports-daily-left-out = 新しい { $days } 日分だけを表示しています。それより古い日は含まれていません(見るには期間を短くしてください)。

## ドメインチェックの所見(monban check とチェックページで共通)
list-sep = 、
mx-null = { $domain } は null MX (RFC 7505) を公開しています: メールを一切受け付けません
mx-count = MX レコード { $n } 件
mx-null-mixed = { $domain } は他の MX レコードと並べて null MX を公開しています: RFC 7505 §3 は null MX を唯一の MX とするよう求めており、送信側はこのドメインがメールを受け付けないと扱うことがあります
fix-mx-null-mixed = { $domain } がメールを受信するなら null MX "{ $domain }. MX 0 ." を、受信しないなら他の MX レコードを削除してください
mx-ip = MX ホスト { $host } は名前ではなくアドレスです: RFC 5321 §5.1 はホスト名を求めており、多くの送信側はそこへ配送しません
fix-mx-ip = ホストに名前を付けてください: "{ $domain }. MX 10 ホスト名." と "ホスト名. A { $host }"
mx-cname = MX ホスト { $host } は別名 (CNAME) です: RFC 2181 §10.3 は MX がホスト自身の名前を指すよう求めており、拒否する送信側もあります
fix-mx-cname = MX レコードには別名 { $host } の指す先のホスト名を書いてください
mx-no-address = MX ホスト { $host } には A も AAAA レコードもありません: そこへはメールを配送できません
mx-none-reachable = { $domain } の MX ホストにはどれもアドレスがありません: { $domain } 宛てのメールは配送できません
fix-mx-none-reachable = MX ホストの A/AAAA レコードを公開するか、それらを持つホストを MX レコードに指定してください
mx-lookup-failed = MX の参照に失敗しました: { $error }
domain-nxdomain = { $domain } は DNS に存在しません
mx-none = { $domain } には MX レコードがありません: メールを受信できません(バウンスや返信が失われます)
fix-mx-none = { $domain } のメールを受信するホストを指す MX レコード("{ $domain }. MX 10 ホスト名.")を公開してください。メールを受信しない場合は null MX "{ $domain }. MX 0 ."
mx-implicit = { $domain } には MX レコードがありません: メールは A/AAAA レコードのホストに届きます(暗黙の MX、RFC 5321 §5.1)が、それを試さない送信側もあります
fix-mx-implicit = { $domain }. MX 10 { $domain }.  (同じホストを明示したもの。メールを受信しない場合は null MX "{ $domain }. MX 0 .")
spf-lookup-failed = TXT の参照に失敗しました: { $error }
spf-type-99 = SPF タイプ (99) のレコードが公開されています: RFC 7208 §3.1 でこのタイプは廃止され、TXT だけが読まれます
fix-spf-type-99 = { $domain } の SPF タイプのレコードを削除し、TXT のレコードを残してください
fix-spf-type-99-only = { $domain } の SPF タイプのレコードを TXT レコードとして公開し(SPF の指摘の修正案がそのレコードです)、その後 SPF タイプのレコードを削除してください
spf-near-miss = { $domain } には SPF のように見える TXT レコードがありますが、"v=spf1" で始まっていません(前後に空白か引用符があります: { $record })。受信側はこれを無視するので、このドメインには SPF ポリシーがありません (RFC 7208 §4.5)
fix-spf-near-miss = { $record }  (前後の空白や引用符を除いた同じレコード。古いものは削除してください)
fix-spf-from-type-99 = { $record }  (廃止された SPF タイプで公開されているレコードを TXT で)
fix-spf-from-sender-id = { $record }  (spf2.0/mfrom の Sender ID レコードの項目を、受信側が読む SPF レコードにしたもの。送信するすべてのホストが含まれているか確認してください)
spf-none = { $domain } は SPF レコードを公開していません: SPF の上では誰でもこのドメインとして送信できます
fix-spf-none-mx = { $domain }. TXT "v=spf1 mx -all"  ({ $domain } として送信するすべてのホストを列挙してください)
fix-spf-none-a = { $domain }. TXT "v=spf1 a -all"  ({ $domain } として送信するすべてのホストを列挙してください)
fix-spf-none-no-mail = { $domain }. TXT "v=spf1 -all"  (このドメインがメールを送信しない場合。送信するなら、送信するホストを -all の前に列挙してください)
spf-several = SPF レコードが { $n } 件あります: 受信側はこれを永続的エラーとして扱います (RFC 7208 §4.5)
fix-spf-several = { $record }  (レコードを 1 つに統合したもの。他は削除してください)
fix-spf-several-by-hand = { $n } 件のレコードを、送信するすべてのホストを残して手作業で 1 つにまとめ、他は削除してください: そのまままとめても機能しません(理由は次の指摘にあります)
spf-merged-syntax = レコードを 1 つにまとめても構文が正しくなりません({ $error })。まず公開中のレコードのその項目を直してください
spf-merged-lookups = まとめたレコードは DNS 参照が { $n } 回になり、RFC 7208 §4.6.4 の上限 { $limit } 回を超えます(受信側は permerror にします)。公開する前に include を減らすか展開してください
spf-syntax = SPF レコードを解析できません({ $error }): 受信側は permerror とします
fix-spf-syntax = 上に示した項目を修正してください
spf-big = この名前の TXT レコードは DNS 応答で { $size } バイトになります(SPF レコードだけで { $spf } バイト)。RFC 7208 §3.4 は { $max } バイトに収めるよう求めています。より大きな応答を受け取れないリゾルバー(EDNS なし、TCP 遮断)では受信側が temperror になります
fix-spf-big = レコードを短くする(ip4:/ip6: のネットワークをまとめる、使っていない include を削除する)か、SPF 以外の TXT レコード(サイト認証のトークンなど)を別の名前に移してください
spf-ptr = レコードが ptr を使っています。RFC 7208 §5.5 は使用しないよう求めています(遅く、信頼性が低い)
fix-spf-ptr = { $record }  (ptr を削除したもの: ptr が一致していたホストの ip4:/ip6: または a: を追加してください)
spf-pass-all = レコードが +all で終わっています: インターネット上のすべてのホストがこのドメインとして送信できます
spf-neutral-all = レコードが ?all で終わっています: 列挙されていないホストは neutral となり、何も守れません
fix-spf-end-all = { $record }  (テスト中は -all の代わりに ~all)
fix-spf-add-senders = { $record }  ({ $domain } として送信するすべてのホストを ~all の前に ip4:、ip6:、a:、mx、include: で列挙してください。その後 -all に)
spf-softfail-all = レコードは ~all (softfail) で終わっています: 列挙されていないホストは緩やかに失敗し、DMARC が判定します
spf-fail-all = レコードは -all で終わっています
spf-no-all = レコードに all メカニズムがありません: 列挙されていないホストは neutral になります
spf-no-all-redirect = redirect= でたどるポリシーに all メカニズムがありません: 列挙されていないホストは neutral になります
spf-ending-at = { $what }(redirect= でたどる { $domain } のレコード)
spf-for-ipv6 = IPv6 のクライアントでは: { $what }
spf-pass-everyone = { $at } のレコードの { $mechanism } はすべてのホストを pass にします(+all で終わるレコードの include、+all で終わる redirect= 先、またはすべてのアドレスを含むネットワーク): インターネット上のすべてのホストがこのドメインとして送信できます
spf-neutral-everyone = { $at } のレコードの { $mechanism } は、それより前に列挙されていないすべてのホストを neutral にし、何も守れません
spf-wide = { $at } のレコードの { $mechanism } は、どの組織も送信に使わないほど広いネットワークを許可しています: インターネットの広い範囲がこのドメインとして送信できます
fix-spf-everyone = { $at } のレコードの { $mechanism } を、このドメインのメールを送信するホストだけに一致するよう変更してください(~all か -all で終え、+all で終わるレコードは include しないでください)
spf-lookups-over = ポリシー全体で DNS を参照する項目が { $limit } 個を超えています(RFC 7208 §4.6.4 の上限は 10。exp= は数えません)
spf-lookups = ポリシー全体で DNS を参照する項目は { $n } 個です(RFC 7208 §4.6.4 の上限は 10。exp= は数えません)
spf-lookups-at-least = DNS を参照する項目は少なくとも { $n } 個です(評価が途中で止まりました: { $cause })(RFC 7208 §4.6.4 の上限は 10。exp= は数えません)
spf-lookups-loop = include/redirect の連鎖がループしている(下記)ため、受信側は DNS を参照する項目を上限の 10 まで数えて permerror とします(RFC 7208 §4.6.4)
fix-spf-lookups = include: の連鎖を ip4:/ip6: のネットワークに置き換える(フラット化)か、使っていない include を削除してください
fix-spf-flattened = { $record }  (フラット化したもの: 各 include を現在のネットワークに置き換えました。プロバイダーが変更したら再チェックしてください)
spf-void-lookups = 存在しない名前の参照が { $n } 回あります(上限は 2、RFC 7208 §4.6.4)
fix-spf-void-lookups = 存在しないホストやドメインを指す項目を削除してください
spf-void-lookups-v6 = IPv6 のクライアントでは存在しない名前の参照が { $n } 回あります(a と mx は AAAA レコードを参照しますが、これらのホストにはありません。上限は 2、RFC 7208 §4.6.4): IPv6 のホストからのメールは permerror になります
fix-spf-void-lookups-v6 = それらのホストに AAAA レコードを公開するか、a や mx の代わりに ip4: でアドレスを列挙してください
spf-unflattenable = 一部の項目(exists:、マクロ、または -、~、? 付きのネットワーク)は許可されたネットワークとして列挙できません
spf-walk-queries = ポリシーをたどるのに { $max } 回を超える DNS 問い合わせが必要です: 受信側は 10 回の参照で打ち切ります (permerror)
spf-after-all = { $domain } のレコードには all の後に項目があります: 受信側はそれらを評価しないため(RFC 7208 §5.1)、何の効果もありません
spf-walk-slow = このポリシーが include するレコードの DNS 応答に合計 { $seconds } 秒以上かかったため、そこでたどるのをやめました。それ以降のレコードは確認していません(受信側は自身の制限を超えると temperror とします)
spf-walk-loop = include/redirect の連鎖が { $domain } に戻ってループしています: 受信側は permerror とします
spf-walk-deep = include/redirect の連鎖が { $domain } で { $max } 段を超えています: 受信側は 10 回の参照で打ち切ります (permerror)
spf-walk-records = include のツリーに { $max } 件を超えるレコードがあります: 受信側は 10 回の参照で打ち切ります (permerror)
spf-walk-several = { $domain }(include または redirect 先)に SPF レコードが { $n } 件あります: 受信側は permerror とします
spf-walk-syntax = { $domain } の SPF レコードを解析できません: 受信側は permerror とします
spf-walk-mx = { $domain } には MX レコードが { $n } 件あります。mx で許されるのは 10 件までです (permerror)
spf-redirect-ignored = { $domain } のレコードには all と redirect={ $target } の両方があります: 受信側は redirect= を無視する(RFC 7208 §6.1)ため、{ $target } が列挙するホストは許可されません
spf-walk-ptr = { $domain }(include または redirect 先)のレコードが ptr を使っています。RFC 7208 §5.5 は使用しないよう求めています(遅く、信頼性が低い)
spf-walk-dns-failed = { $domain }(include または redirect 先)の SPF レコードを参照できませんでした: { $error }。この間、受信側は temperror とします
dmarc-lookup-failed = DMARC の参照に失敗しました: { $error }
dmarc-none = { $domain } は DMARC レコードを公開していません: このドメインを詐称したメールに受信側はポリシーを適用しません
dmarc-invalid = { $domain } の DMARC レコードは無効です({ $error }): 無視されます
dmarc-unusable = { $domain } は使用できる DMARC レコードを公開していません
dmarc-leading-space = { $name } のレコードは v=DMARC1 の前に空白があります: RFC 9989 は v= を先頭に求めており、厳密に読む受信側はこのレコードを捨てるため、そうした受信側ではポリシーが適用されません
fix-dmarc-leading-space = { $record }  (先頭の空白を除いた同じレコード)
dmarc-several = _dmarc.{ $domain } に DMARC レコードが { $n } 件あります: 受信側はすべて無視します
dmarc-own-discarded = { $what }。RFC 9989 に従う受信側は代わりに { $name } を適用し(ツリーウォーク)、RFC 7489 に従う受信側は DMARC ポリシーを一切適用しません (RFC 7489 §6.6.3)
dmarc-own-ignored = { $what }。受信側は代わりに { $name } を適用します(レコードは v=DMARC1 で始まる必要があります)
fix-dmarc-several = _dmarc.{ $domain } の { $n } 件の DMARC レコードのうち 1 件を残し、他は削除してください
fix-dmarc-none = { $record }  (レポートで問題がないことを確認したら p=quarantine、p=reject へ進めてください)
fix-dmarc-none-no-mail = { $record }  (このドメインはメールを送信しない)
dmarc-at = { $name }
dmarc-at-tree = { $name }(ツリーウォークで発見。{ $domain } 自身にはレコードがありません)
dmarc-at-tree-discarded = { $name }(ツリーウォークで発見。{ $domain } 自身のレコードは破棄されるため)
dmarc-p-reject = { $at }: { $tag }=reject: 詐称メールは拒否されます
dmarc-p-quarantine = { $at }: { $tag }=quarantine: 詐称メールは迷惑メールになります
dmarc-p-none = { $at }: { $tag }=none: 監視のみで、詐称メールも配送されます
fix-dmarc-p-none = { $record }  (集約レポートですべての正規メールの合格を確認してから。その後は p=reject)
dmarc-fallback = 次の理由でレコードは p=none として扱われます: { $why }
dmarc-milder = { $at }: { $tag }={ $policy } ですが、{ $why } のため受信側は詐称メールに { $effective } を適用します
dmarc-discarded = 受信側はレコードの無効な部分を捨て、代わりに既定値を使います: { $what }
dmarc-pct-partial = pct={ $pct }: RFC 7489 に従う受信側(monban も)は、失敗したメールに p= より緩いポリシーを適用します。RFC 9989 に従う受信側は pct を無視します
fix-dmarc-pct = { $record }  (集約レポートで自分のメールがすべて合格しているのを確かめたら。ポリシーが完全に適用されます)
dmarc-sp-weaker = sp={ $sp } は p={ $p } より弱く、サブドメインが詐称されやすくなります
fix-dmarc-record = { $record }
dmarc-np-weaker = 存在しないサブドメインには { $np } が適用され、p={ $p } より弱くなっています
dmarc-testing = t=y: ドメインがテスト中と宣言しているため、受信側はより緩いポリシーを適用します
fix-dmarc-testing = { $record }  (テストが終わったら)
dmarc-removed-tag = { $tag }= は RFC 9989 で削除されました: これに従う受信側はこのタグを無視します
dmarc-no-rua = rua= がありません: 集約レポートが届かないため、誰があなたのドメインで送信しているかわかりません
dmarc-too-many-uris = レコードには受信側が読む数(タグごとに { $max } 個)より { $n } 個多いレポート URI があります。残りは無視されます
fix-dmarc-too-many-uris = レポートの宛先はタグごとに 1、2 個にしてください
dmarc-not-mailto = { $tag } の宛先 { $uri } は mailto: URI ではありません: ほとんどの受信側はメールでしか送りません
dmarc-external-unauthorized = { $tag }={ $uri } は別の組織にあり、{ $dest } はそれを許可していません: 受信側はこのレポートを送りません
dmarc-uri-unusable = { $tag }={ $uri }: このアドレスにはどの受信者もレポートを送れません ({ $why })
uri-no-at = @ がありません
uri-no-local-part = @ の前が空です
uri-no-domain = @ の後にドメインがありません
uri-address-literal = アドレスリテラルです。受信者は承認レコードを確認するためにドメインを必要とします (RFC 7489 §7.1)
uri-hyphen-label = ドメインのラベルがハイフンで始まるか終わっています (RFC 1123 §2.1)
dmarc-external-unchecked = { $tag }={ $uri } は別の組織にあり、このレポートを許可しているか確認できませんでした(参照に失敗: { $error })。後でもう一度確認してください
fix-dmarc-external = { $record }  ({ $dest } の管理者が公開)
dkim-lookup-failed = { $name }: 参照に失敗しました: { $error }
dkim-invalid = { $name }: 鍵レコードが無効です({ $why })
dkim-several = { $name } に TXT レコードが { $n } 件あります: 検証側がどれを読むかは未定義(RFC 6376 §3.6.2.2)なので、別のレコードの鍵で署名したメールはときどき失敗します。以下は最初のレコードについてです
fix-dkim-several = { $name } には署名に使う鍵のレコードを 1 件だけ残し、他は削除してください
dkim-no-key = { $name } に DKIM 鍵がありません: s={ $selector } の署名は失敗します
dkim-revoked = { $name }: 鍵は失効しています(p= が空)
dkim-ed25519 = { $name }: Ed25519 (RFC 8463)。まだすべての受信側が検証できるわけではないので、RSA でも署名してください
dkim-rsa-bad = { $name }: RSA 鍵を復号できません
dkim-ed25519-bad = { $name }: k=ed25519 ですが、p= は Ed25519 の鍵の 32 バイトではなく { $n } バイトです(RFC 8463 §4): 検証側はこの鍵を拒否します
dkim-ed25519-rsa = { $name }: k=ed25519 ですが、p= は RSA の鍵({ $bits } ビット)です: 検証側はこの鍵を拒否します。k=rsa で(または k= なしで)公開してください
dkim-not-email = { $name }: s={ $services } に email も * もありません: 検証側はこの鍵をメールに使わない(RFC 6376 §3.6.1)ため、その署名は失敗します
fix-dkim-not-email = 鍵レコードから s= を削除してください(または s=email にしてください)
dkim-rsa-weak = { $name }: RSA { $bits } ビット: 受信側は 1024 ビット未満の鍵を拒否します (RFC 8301)
dkim-rsa-short = { $name }: RSA { $bits } ビット: RFC 8301 は 2048 ビットを求めています
dkim-rsa = { $name }: RSA { $bits } ビット
dkim-testing = { $name }: t=y(テスト中): この鍵の署名を署名なしとして扱う受信側があります
fix-dkim-testing = 鍵レコードの t= から y フラグを削除し、ほかのフラグは残してください(t=s:y は t=s に、t=y だけなら t= ごと削除)
dkim-no-sha256 = { $name }: h= が sha256 を許可していません
fix-dkim-no-sha256 = { $name } の鍵レコードから h= を削除する(すべてのハッシュが許可されます)か、h=sha256 と書いてください。RFC 8301 §3.1 で sha1 は廃止されました
dkim-none-discovered = よく使われるセレクタ名には DKIM 鍵が見つかりませんでした
dkim-no-selector = DKIM セレクタが指定されていません
adsp-discardable = ADSP dkim=discardable: ADSP を今も実装している受信側は、作成者署名のないメールを破棄します。第三者が自身の d= で署名するだけでは不十分です
adsp-all = ADSP dkim=all: すべてのメールに作成者署名があると宣言しています
adsp-unknown = ADSP dkim=unknown: 宣言なし
adsp-syntax = ADSP レコードを解析できません
adsp-historic = { $what }(ADSP (RFC 5617) は廃止済みで、DMARC が置き換えています)
fix-adsp = _adsp._domainkey.{ $domain } を削除し、DMARC に任せてください
why-unsigned = メールに DKIM 署名がありません
why-dkim-unaligned = DKIM d={ $d } は { $domain } とアライメントしません
why-dkim-aligned = DKIM d={ $d } は { $domain } とアライメントします
why-no-ip = 送信元 IP が指定されていないため、SPF は予測していません
why-spf-aligned = { $domain } の SPF は合格し、アライメントします
why-spf-passes = { $domain } の SPF は合格します
why-spf-unaligned = { $mail_from } の SPF は合格しますが、{ $domain } とアライメントしません
why-spf-fails = { $domain } の SPF は { $ips } で合格しません
predict-pass = DMARC に合格: 受信側は配送します({ $why })
predict-none = { $domain } には DMARC ポリシーがないため、受信側は SPF/DKIM だけで判定します({ $why })
predict-fail = DMARC に失敗({ $why }): { $tag }={ $p } のため、このメールは{ $fate }
predict-fail-milder = DMARC に失敗({ $why }): { $tag }={ $p } ですが、t=y か 100 未満の pct により受信側は一段緩く適用するため、このメールは{ $fate }
fate-reject = 拒否されます
fate-quarantine = 迷惑メールになります
fate-none = 配送されます(ポリシーが none のため)
predict-other = DMARC の結果は { $result } です({ $why })
fix-sign-aligned = d={ $domain }(またはそのサブドメイン)で署名し、鍵を { $domain } の下に公開してください
fix-sign-aligned-strict = d={ $domain } そのもので署名し(adkim=s ではサブドメインは一致しません)、鍵を { $domain } の下に公開してください
fix-mail-from-aligned = MAIL FROM (Return-Path) に { $domain } またはそのサブドメインのアドレスを使って送信してください
fix-mail-from-and-list = { $first }。さらに { $domain } の SPF レコードに { $nets } を追加してください(現在は含まれていません)
fix-mail-from-strict = MAIL FROM (Return-Path) に { $domain } そのもののアドレスを使って送信してください(aspf=s ではサブドメインは一致しません)
fix-spf-add = { $domain } の SPF レコードに { $nets } を追加してください
fix-spf-error = { $domain } の SPF ポリシーが評価できるよう直してください: { $ip } に対して { $result } になります({ $cause })。エラーが起きた時点で評価は終わります(構文エラーやレコードが複数ある場合は、アドレスを比較する前に終わります)。アドレスを列挙するのではなく、原因を直してください
fix-either = { $a }。または { $b }
fix-none-known = ここで変更すべきことはありません
step-publish-key = 鍵を公開してください: monban keygen --domain { $domain } --selector { $selector }
step-rotate-key = 新しいセレクタに切り替えてください: monban keygen --domain { $domain } --selector NEW --bits 2048
step-name-selectors-discovered = { $what }: 使っているセレクタを --selector で指定してください
step-name-selectors = { $what }: 鍵を確認するには --selector S(または --discover)を追加してください

## CLI のテキスト出力
cli-fix = 修正:
cli-spf-allows = SPF が許可:
cli-light-green = 正常
cli-light-yellow = 要改善
cli-light-red = 問題あり
web-step-name-selectors = { $what }: 使っているセレクタを「DKIM セレクタ」欄に入力するか、「よく使われるセレクタ名も試す」にチェックを入れてください
web-step-name-selectors-discovered = { $what }: 使っているセレクタを「DKIM セレクタ」欄に入力してください
check-spf-tree = include のツリー
spf-node-lookups = このレコードでの DNS 参照 { $n } 回
spf-matched = { $domain } のレコードの { $mechanism } に一致
dmarc-tags-caption = DMARC レコードのタグ (RFC 9989): 記述されたもの、または受信側が適用する既定値
col-source = 出所
tag-explicit = 記述あり
tag-default = 既定値
dmarc-tag-p = 失敗したメールへのポリシー: none(監視)、quarantine(迷惑メール)、reject(拒否)
dmarc-tag-sp = サブドメインへのポリシー
dmarc-tag-np = 存在しないサブドメインへのポリシー
dmarc-tag-adkim = DKIM のアライメント: r(relaxed、同じ組織ドメイン)または s(strict、同じ名前)
dmarc-tag-aspf = SPF のアライメント: r(relaxed)または s(strict)
dmarc-tag-fo = 失敗レポートを求める条件: 0(すべて失敗)、1(いずれか失敗)、d(DKIM 失敗)、s(SPF 失敗)
dmarc-tag-rua = 集約レポートの送付先
dmarc-tag-ruf = 失敗レポートの送付先
dmarc-tag-t = y: テスト中。受信側はより緩いポリシーを適用します
dmarc-tag-psd = パブリックサフィックスドメインか: はい (y)、いいえ (n)、不明 (u)
dmarc-tag-other = RFC 9989 のタグではありません: 受信側は無視します
what-if-title = もしも: 公開する前に別のレコードでチェック
what-if-help = ここにレコードを書くと、公開されているものとしてチェックします。それ以外は DNS から取得します。何も公開されません。
what-if-spf = SPF レコード (v=spf1 ...)
what-if-dmarc = DMARC レコード (v=DMARC1; ...)
what-if-banner = もしも: このチェックは公開中のレコードではなく、入力したレコードを使っています。
what-if-bad = { $what } レコードは 1 行、{ $max } 文字以内にしてください。
reports-overview = すべてのドメイン(ドメインを選ぶと送信元と助言を表示します)
reports-over-time = 推移
reports-daily-caption-day = 1 日ごとのメッセージ数: DMARC に合格した部分は青、それ以外は赤
reports-daily-caption-week = 1 週間ごとのメッセージ数: DMARC に合格した部分は青、それ以外は赤
reports-daily-caption-month = 30 日ごとのメッセージ数: DMARC に合格した部分は青、それ以外は赤
reports-daily-table = 同じ数値の表
col-period = 期間
col-kind = 種類
col-rows = 行数
reports-list-link = 受信したレポートを 1 件ずつ見る
reports-list-title = 受信したレポート
reports-list-caption = レポート { $from } 〜 { $to }(新しい順)
reports-pages = ページ
previous = 前へ
next = 次へ
reports-bad-page = ページ番号は 0 から 2000 までの数にしてください(さらに古いものはドメインや期間で絞り込んでください)。
reports-report-title = レポート
reports-no-such-report = そのようなレポートはありません。
reports-meta = 行以外の記載内容
reports-document = 受信したままの内容
reports-download = 文書をダウンロード
reports-document-large = 文書が大きいため、先頭の { $kib } KiB だけを表示しています。すべてはダウンロードで読めます。
reports-no-document = このレポートは、monban が文書を保存するようになる前に取り込まれました。

## ヘッダー解析の警告(monban analyze と解析ページで共通)
what-date-field = Date フィールド
what-hop = ホップ { $n }({ $name })
warn-no-date = Date フィールドがありません(RFC 5322 §3.6 で必須)
warn-obsolete-date = Date フィールドが廃止された、または標準外の書式です: { $text }
warn-weekday-mismatch = Date フィールドの曜日が日付と一致しません: { $text }
warn-bad-date = Date フィールドを解析できません: { $text }
warn-no-message-id = Message-ID フィールドがありません
warn-bad-message-id = Message-ID が <left@right> の形式ではありません: { $id }
warn-several-return-path = Return-Path フィールドが { $n } 個あります: 最終配送のものは一番上だけです
warn-no-from = From フィールドがありません
warn-several-from = From フィールドが { $n } 個あります: 受信側によって表示されるものが異なります(詐称の手口)
warn-display-name-address = From の表示名はアドレス { $shown } を見せていますが、実際の差出人は { $from } です
warn-bad-from = From フィールドを解析できません: { $error }
warn-sender-differs = { $from } に代わって { $sender } が送信
warn-empty-sender = Sender フィールドが空です: RFC 5322 §3.6.2 ではメールボックスを 1 つ書くことになっています
warn-return-path-unaligned = Return-Path のドメイン { $rp } は From のドメイン { $from } ではありません: SPF は DMARC に使えず、アライメントした DKIM 署名だけが使えます
warn-too-many-received = Received フィールドが { $n } 個あります: 新しい { $max } 個だけを解析します(メールループ、またはヘッダーを水増しする偽装)
warn-received-no-date = { $hop } に日付がありません
warn-received-bad-date = { $hop }: 日付 { $date } を解析できません: { $error }
warn-out-of-order = { $hop } の日付は { $what } より { $delay } 前です: Received フィールドの順序が乱れているか、偽装されたか、時計が大きくずれています
warn-clock-skew = { $hop } の日付は { $what } より { $delay } 前です: 時計がずれています
warn-slow-hop = { $hop } は { $what } の { $delay } 後に届きました
warn-unparseable-results = { $id } の Authentication-Results フィールドは RFC 8601 に従っていません({ $error })。寛容に読み取りました
warn-unparseable-results-unnamed = 名前のない記録者(authserv-id なし)の Authentication-Results フィールドは RFC 8601 に従っていません({ $error })。寛容に読み取りました
warn-results-before-first-hop = { $id } の Authentication-Results フィールドはすべての Received フィールドより下にあり、最初の受信ホストの名前でもありません: 最初のホップより前、つまり送信者がメッセージに入れたものと思われます。信頼しないでください
warn-results-below-other-hop = { $id } の Authentication-Results フィールド(ヘッダーの { $position } 番目)は { $by } の Received フィールドより下にあります。{ $by } は { $id } より前にメッセージを受け取ったので、これは { $id } が書いたものではありません(送信者や中継者はどんな名前でも書けます、RFC 8601 §5)。信頼しないでください
warn-too-many-signatures = DKIM-Signature フィールドが { $n } 個あります: 最初の { $max } 個だけを説明します
warn-too-many-result-fields = { $field } フィールドが { $n } 個あります: 最初の { $max } 個だけを読みます
warn-too-many-results = { $position } 番目の { $field } フィールドには { $max } を超える結果があります: 最初の { $max } 個だけを表示します
warn-signatures-not-diagnosed = 本文と照らし合わせて診断するのは最初の { $max } 個の DKIM 署名だけです(署名ごとに本文のハッシュを計算するため)。残りは診断なしで説明します

## DKIM-Signature のタグの説明 (RFC 6376 §3.5)
joined = { $parts }
names = { $names }
names-and-more = { $names } ほか { $n } 個
tag-v = DKIM-Signature バージョン 1 (RFC 6376)
tag-v-unknown = バージョン { $value } は不明です: 検証側は署名を無効として扱わなければなりません
tag-a-rsa-sha256 = RSA 鍵と SHA-256 ハッシュによる署名
tag-a-rsa-sha1 = RSA と SHA-1 ハッシュ: SHA-1 は破られており、検証側はもう受け入れてはいけません (RFC 8301)
tag-a-ed25519 = Ed25519 鍵と SHA-256 ハッシュによる署名 (RFC 8463)
tag-a-unknown = 不明なアルゴリズム: 署名を検証できません
tag-b-rsa = 署名対象のヘッダーフィールドとこのフィールドに対する署名: { $n } バイト、つまり { $bits } ビットの RSA 鍵
tag-b = 署名対象のヘッダーフィールドとこのフィールドに対する署名: { $n } バイト
tag-b-bad = 署名ですが、正しい base64 ではありません
tag-bh = { $c } 正規化した本文全体の { $hash } ハッシュ。受信した本文と比較します
tag-bh-part = { $c } 正規化した本文の先頭 { $l } バイトの { $hash } ハッシュ。受信した本文と比較します
tag-c = ヘッダーフィールド: { $header }、本文: { $body }
tag-c-header-relaxed = relaxed(折り返しの変更、空白の変更、フィールド名の大文字小文字は許容)
tag-c-header-simple = simple(長い行の折り返しを含め、どんな変更でも署名が壊れる)
tag-c-body-relaxed = relaxed(行内の空白の変更と末尾の空行は許容)
tag-c-body-simple = simple(末尾の空行だけが変わってよい)
tag-c-unknown = 不明(署名は無効)
tag-c-absent = 記述なしのため既定値の simple/simple: { $c }
tag-d = 署名ドメイン。メッセージに責任を持つドメインです。{ $rel }
tag-d-same = From ドメインと同じ: 作成者署名
tag-d-related = From ドメイン { $from } と関連(親またはサブドメイン): relaxed アライメントでの作成者署名
tag-d-third-party = From ドメイン { $from } ではありません: 第三者署名(配信サービス、メーリングリスト、転送者)で、DMARC は { $from } のものとして数えません
tag-d-no-from = From ドメインが不明なため、作成者署名ではありません
tag-h-signed = 署名対象のヘッダーフィールド { $n } 個: { $names }
tag-h-signed-capped = 署名対象のヘッダーフィールド { $n } 個: { $names }(最初の { $max } 個だけを確認)
tag-h-over-signed = 過剰署名(実際より多く列挙されているため、追加できない): { $names }
tag-h-unsigned = 存在するが署名されていないため、署名を壊さずに変更できる: { $names }
tag-h-from-unsigned = From が署名されていないため、署名は無効です (RFC 6376 §5.4)
tag-i = 署名者が保証するエージェントまたはユーザーの識別子 (AUID): { $value }
tag-l = 本文の先頭 { $l } バイトだけが署名されています: その後に追加されたものは対象外です (RFC 6376 §8.2)
tag-l-bad = 本文の長さ制限ですが、数値ではありません(署名は無効)
tag-q = 鍵の探し方: dns/txt、TXT レコード(定義されている唯一の方法)
tag-s = セレクタ: 公開鍵は { $value }._domainkey.{ $d } に公開されています
tag-t = 署名日時 { $time }
tag-t-bad = 署名日時ですが、数値ではありません(署名は無効)
tag-x = 有効期限 { $time }。それを過ぎると署名は失敗します
tag-x-after = 有効期限 { $time }(署名の { $after } 後)。それを過ぎると署名は失敗します
tag-x-bad = 有効期限ですが、数値ではありません(署名は無効)
tag-z = 署名時のヘッダーフィールドの写し(診断用): { $fields }
tag-unknown = 不明なタグ: 検証側は無視します (RFC 6376 §3.2)

## DKIM の診断: 何が、どこで変わったか
diag-body-intact = 本文のハッシュが一致します: 本文は署名時のままです
diag-unsigned-body = l={ $l } のため、署名された部分の後の { $n } バイトは署名されていません(先頭 "{ $start }"): 署名後に追加された内容です
diag-body-changed = 本文のハッシュが一致しません: 署名後に本文が変更されました
diag-body-shorter = 本文が l={ $l } より短くなっています: { $n } バイトが削除されました
diag-footer = 本文の末尾に { $n } 行のフッターが追加されました(先頭 "{ $start }"): それがなければ本文のハッシュは一致します
diag-not-a-footer = 変更は末尾の { $max } 行以内のフッターだけではありません(メーリングリストやゲートウェイが本文を再エンコードまたは再折り返しした可能性があります)
diag-invalid-signature = 鍵にかかわらず署名は無効です: { $error }
diag-headers-intact = ヘッダーフィールドに対する署名は検証できます: 署名されたフィールドは署名時のままです
diag-signature-verifies = 署名は暗号学的に検証できます(失敗と報告する検証側には別の理由があります: 鍵レコード、時刻、またはポリシー)
diag-headers-changed = ヘッダーフィールドに対する署名が検証できません: 署名されたヘッダーフィールドが変更されたか、{ $s } に公開された鍵が署名した鍵ではありません (署名者は monban check { $d } --selector { $s } --key 鍵ファイル で見分けられます)
diag-key-unusable = この鍵では署名を確認できません: { $error }
diag-subject-tag = 署名後に件名へ { $tag } タグが追加されました(典型的にはメーリングリスト): それがなければ署名は検証できます
diag-refolded-field = 配送中に { $field } フィールドが折り返し直されました: 折り返しを戻すと署名は検証できます(c=simple はこれを許容しません。relaxed なら許容します)
diag-refolded = 配送中にヘッダーフィールドが折り返し直されました: 折り返しを戻すと署名は検証できます(c=simple はこれを許容しません。relaxed なら許容します)
diag-header-added = 署名後、署名の上に { $fields } が追加されました: それがなければ署名は検証できます
diag-subject-tag-likely = 件名が { $tag } で始まっています: 署名後にメーリングリストがこのタグを追加したと思われ、署名が壊れます
diag-header-added-likely = 署名対象のフィールド { $fields } が署名より上にあるため、署名後に追加されたと思われます
diag-from-rewritten = From フィールドがメーリングリストによって書き換えられたようです("... via ...")。署名が壊れます
diag-fragile = ヘッダーフィールドが c=simple です: 配送中の折り返しや空白の変更で壊れます。monban は元の形を再構成できませんでした
diag-header-gone = { $name } は署名時 (z=) にはありましたが、なくなっています
diag-header-changed = { $name } は署名時 (z=) には "{ $was }" でしたが、現在は "{ $now }" です
diag-unknown-field = monban にはどの署名済みフィールドが変わったかわかりません

## レポートの助言(「p=reject にして安全か」)。monban report advise とダッシュボードで共通
advice-forwarder = 転送サービスまたはメーリングリスト: 失敗は想定どおりです(元の送信者自身のメールは合格しています)。変更は不要です
advice-unaligned-dkim = d={ $other } で DKIM 署名しています: この送信者で d={ $domain }(またはそのサブドメイン)の DKIM 署名を有効にしてください
advice-unaligned-spf = SPF は { $domain } ではなく { $other } で合格しています: この送信者で d={ $domain } の DKIM 署名を有効にするか、{ $domain } 配下のバウンス (Return-Path) ドメインを使わせてください
advice-dkim-broken = DKIM 署名 d={ $d } s={ $s } が検証できません: { $s }._domainkey.{ $d } に公開されている鍵と、メッセージを変更しているものを確認してください
advice-not-in-spf = この送信者を { $domain } の SPF レコードに追加する ({ $term }) か、DKIM d={ $domain } で署名してください
verdict-no-mail = この期間に { $domain } の報告されたメールはありません: まだ判断できません
verdict-reject-clean = { $domain } は p=reject で、確認できた正規の送信元はすべて合格しています
verdict-reject-hurt = { $domain } は p=reject ですが、{ $n } 個の送信元(メールの { $share }%)が失敗して拒否されています
verdict-safe-little = 報告されたメール { $messages } 通の範囲では p={ $step } に移行して安全ですが、確信するには少なすぎます: レポートが増えるのを待ってください
verdict-no-pass = まだ早い: { $domain } の報告されたメールで DMARC に合格したものがありません。このドメインがメールを送らないなら p={ $step } (さらに p=reject) が適切です。送るなら、そのメールはまだ認証されていません: まず SPF を公開し、DKIM で署名してください
verdict-unknown-sources = まだ判断できません: メールの { $share }% が、誰も認証しておらず逆引きも不明な { $n } 個の送信元から来ています (逆引きしていない、または逆引きに失敗)。ドメイン自身のサーバーが含まれている可能性があります。p={ $step } に移行する前に調べてください
verdict-safe = p={ $step } に移行して安全です
verdict-not-yet-reject = まだ早い: { $n } 個の送信元(メールの { $share }%)が拒否されます
verdict-not-yet-quarantine = まだ早い: { $n } 個の送信元(メールの { $share }%)が隔離されます
login-limited = このアドレスからのログイン失敗が多すぎます。数分後にもう一度お試しください。

arc-fail = ARC チェーンは失敗しています: { $why }
arc-body-intact = 本文は ARC 封印者({ $n } 件)が署名したときのままです
arc-body-changed-after-last = 最後の ARC 封印者 (i={ $i }、{ $sealer }) が署名した後で本文が変わりました: そこからここまでの経路上です
arc-body-changed-between = ARC セット i={ $before } ({ $sealer }) の後、セット i={ $after } ({ $next }) が署名する前に本文が変わりました: { $next }(またはその直前の中継)が変更してから封印しました
arc-dkim-passed-at = DKIM d={ $d } はここでは失敗しますが、ARC セット i={ $i } ({ $sealer }) は成功と記録しています: { $sealer } が検証した後で壊れました(封印前にメッセージを変更しうるその中継自身か、それ以降)
arc-override = DMARC は失敗 (p={ $policy }) しましたが、メッセージは配送されます: 信頼する ARC 封印者 { $sealer } (i={ $i }) が受信時に { $recorded } と記録しています
arc-title = ARC チェーン: { $result }({ $n } セット)
col-sealer = 封印者
col-seal = 封印
col-ams = メッセージ署名
col-body = 本文
arc-body-same = 封印時のまま
arc-body-changed = その後に変更

# 記録された結果の意味 (RFC 8601 2.7 節と各方式の RFC)。
ar-meaning = { $method }: { $result }
ar-method-spf = SPF (RFC 7208) はエンベロープ送信者のドメイン (MAIL FROM または HELO) が送信ホストを許可しているかを確かめます
ar-method-dkim = DKIM (RFC 6376) はヘッダーフィールドと本文に対するドメインの署名を確かめます
ar-method-dmarc = DMARC (RFC 9989) は From ドメインとアラインした SPF または DKIM の pass があるかを確かめ、なければドメインのポリシーを適用します
ar-method-arc = ARC (RFC 8617) はメッセージを転送した中継者の封印を確かめます
ar-method-iprev = iprev (RFC 8601 3 節) はクライアントのアドレスに、そのアドレスへ正引きできる逆引き名があるかを確かめます
ar-method-sender-id = Sender ID (RFC 4406、歴史的) はヘッダーの責任アドレス (Resent-Sender、Resent-From、Sender または From) のドメインが送信ホストを許可しているかを、spf2.0/pra レコードまたは SPF レコードで確かめます
ar-method-domainkeys = DomainKeys (RFC 4870、歴史的、DKIM の前身) は署名より下のフィールドと本文に対する署名を確かめます。DMARC には数えません
ar-method-dkim-adsp = ADSP (RFC 5617、歴史的) は作成者ドメインが署名していないメールについて宣言した内容です
ar-method-auth = SMTP AUTH (RFC 4954) はクライアントがログインしたかを示します
ar-method-dkim2 = DKIM2 (インターネットドラフト) はエンベロープを含め各ホップの署名を確かめます
ar-method-dnswl = DNS 許可リスト (RFC 5782、RFC 8904) はクライアントのアドレスが信頼済みとして載っているかを確かめます
ar-method-dnsbl = DNS ブロックリスト (RFC 5782) はクライアントのアドレスが載っているかを確かめます
ar-method-other = monban が知らない方式
ar-result-pass = 合格しました
ar-result-fail = 不合格でした
ar-result-softfail = 弱い不合格: ドメインはこのホストはおそらく許可されていないと言っています
ar-result-neutral = 結論なし: ドメインはこのホストについて何も言っていないか、署名を確かめられませんでした
ar-result-none = 適用されませんでした: 確かめるものがありません
ar-result-temperror = 一時的なエラー (多くは DNS): 後で試せば結果が出るかもしれません
ar-result-permerror = 恒久的なエラー: 公開されたレコードまたは署名が使えません
ar-result-policy = 有効であっても受信側のポリシー (弱い鍵、署名されていない部分) で拒否されました
ar-result-listed = クライアントは載っています
ar-result-not-listed = クライアントは載っていません
ar-result-skipped = 問い合わせていません (許可リストがクライアントを保証しました)
ar-result-other = 結果「{ $result }」
ar-result-iprev-fail = 不合格: アドレスの逆引き名のどれも、そのアドレスに正引きできません (逆引きのないホストは乗っ取られた機械であることが多い)
ar-result-iprev-permerror = アドレスに逆引き名がまったくありません (RFC 8601 §2.7.3: PTR データが公開されていない)。逆引きのないホストは乗っ取られた機械であることが多い
ar-result-sender-id-fail = 不合格: ドメインがホストを許可していないか、ドメインが存在しないか、メッセージに責任アドレスがありません
ar-result-adsp-discard = ドメインはすべてのメールに署名し、署名のないものは破棄するよう求めています
ar-result-adsp-nxdomain = 作成者ドメインは存在しません
ar-result-adsp-unknown = ドメインは一部のメールに署名しています: 署名のないメッセージからは何も言えません
warn-no-reverse-name = { $hop } はクライアント { $ip } の逆引き名を記録していません (「unknown」): そこで iprev は permerror (確認する名前がない) で、そのようなホストを信用しない受信者も多くあります
senderid-record = Sender ID レコード (RFC 4406、歴史的): { $record }
senderid-syntax = Sender ID レコード { $record } を解析できません: { $error }。Sender ID の受信側は permerror になります
fix-senderid-syntax = { $domain } の spf2.0 レコードを直すか削除してください: なければ Sender ID の受信側は SPF レコードを使います
senderid-differs = Sender ID レコード { $record } は SPF レコードと異なる内容です: まだ Sender ID を確かめる少数の受信側はこちらで判定します
fix-senderid-differs = { $domain } の spf2.0 レコードを削除する (受信側は SPF レコードを使います) か、SPF レコードと同じ項目にしてください
senderid-several = { $n } 個の Sender ID レコードが { $scope } スコープを持っています: Sender ID の受信側は permerror になります
fix-senderid-several = spf2.0 レコードはスコープ ({ $scope }) ごとに一つにしてください
senderid-no-pra = ドメインは spf2.0 レコードを公開していますが、pra スコープのものがありません: Sender ID の受信側は SPF レコードで代用せず、ポリシーなしと判定します
iprev-pass = { $ip } の逆引き名 { $name } は正引きで { $ip } に戻ります
iprev-temperror = { $ip } の逆引きをいま確かめられませんでした: { $error }
iprev-fail = { $ip } には正引きで戻る逆引き名がありません ({ $why }): 大手の受信側はそのようなホストを拒否するか信用しません
fix-iprev = { $ip } のネットワークの管理者に、A または AAAA レコードが { $ip } であるホスト名を指す PTR レコードを公開してもらってください
dnsbl-listed = { $ip } は { $zone } に載っています ({ $code }): このリストを使う受信側はそのメールを拒否します
fix-dnsbl = { $zone } のウェブサイトで理由を調べ、原因を直してから削除を依頼してください
dnswl-listed = { $ip } は許可リスト { $zone } に載っています
dnsbl-not-listed = { $ip } は { $zone } に載っていません
dnsbl-temperror = { $zone } は { $ip } について応答しませんでした
dnsbl-refused = { $zone } は { $ip } についての回答を拒否しました(コード { $code }: リストは公開リゾルバーや未登録のリゾルバーからの問い合わせを拒否します)。自前のリゾルバーから問い合わせてください
dkim-key-matches = { $name } は { $file } の公開鍵を公開しています: この鍵による署名は検証に合格します
dkim-key-mismatch = { $name } は { $file } の公開鍵を公開していません: この鍵で署名したメールは DKIM で不合格になります (署名が検証できません)
fix-dkim-key-mismatch = { $name } にこの鍵のレコードを公開してください: { $record }
reflect-title = monban はテストメッセージを受け取り、確認しました。結果:
reflect-results = 結果 (Authentication-Results) と、それぞれの意味:
reflect-warnings = ヘッダー解析で気づいたこと:
reflect-advice = このメッセージと同じ送り方での { $domain } への助言:
reflect-fix = 修正
reflect-all-green = 直すものはありません: すべての確認が green です。

## Arguments and form fields that are not what they should be (CLI, API, pages)
arg-not-domain = { $flag } { $given } はドメイン名ではありません: { $why }
name-not-idn = 国際化ドメイン名として正しくありません
name-bad-char = { $char } は使えません(英字、数字、'-'、'_'、'.')
name-one-label = ラベルが 1 つしかありません
name-is-ip = IP アドレスです(メールを送るドメインを指定してください)
name-empty = 空の名前です
name-empty-label = 長さ 0 のラベルがあります
name-label-too-long = 63 オクテットを超えるラベルがあります
name-too-long = 253 オクテットを超える名前です
name-invalid = 正しいドメイン名ではありません
arg-too-many-selectors = セレクターは最大 { $max } 個までです
arg-not-selector = { $given } は DKIM セレクターではありません(英字、数字、'-'、'_'、'.'、1〜63 文字)
arg-not-day = { $name } { $given }: YYYY-MM-DD の形で指定してください(例: 2026-11-29)
arg-since-after-until = { $since } が { $until } より後になっています
too-many-at-once = このアドレスからのチェックがすでに { $most } 件実行中です。いずれかが終わってから、もう一度お試しください。
query-too-many-params = クエリのパラメーターが多すぎます (最大 { $most } 個)
query-bad-escape = クエリに不正な %-エスケープがあります
query-not-utf8 = クエリが UTF-8 ではありません
query-unknown-param = クエリのパラメーター { $name } はこのパスでは使えません (使えるもの: { $takes })
query-repeated-param = クエリのパラメーター { $name } が 2 回以上指定されています
