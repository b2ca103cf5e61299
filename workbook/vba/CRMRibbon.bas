Attribute VB_Name = "CRMRibbon"
' Callbacks of the CRM ribbon tab (workbook/customUI14.xml names each one in onAction).
' Each hands the work to Python through xlwings' RunPython; the Python side is udfs/ribbon.py,
' which reads and writes this workbook. Help needs no Python, so that a recipient of an
' emailed copy without Python still gets it.
Option Explicit

' Recompute scores and segments and rewrite the result sheets.
Public Sub CRM_Resegment(control As IRibbonControl)
    RunPython "import udfs.ribbon; udfs.ribbon.resegment()"
End Sub

' Validate the ledger and settings sheets and list every problem on the Problems sheet.
Public Sub CRM_Check(control As IRibbonControl)
    RunPython "import udfs.ribbon; udfs.ribbon.check()"
End Sub

' Rebuild the Judgments sheet from the Indicators sheet (udfs/ribbon.py's sync_judgments):
' renamed items are asked for here, so that their judgments are kept.
Public Sub CRM_SyncJudgments(control As IRibbonControl)
    Dim renames As Variant
    renames = Application.InputBox( _
        "Items you renamed on the Indicators sheet since the judgments were last in step, " & _
        "as Old=New, separated by ; (leave blank if none):", "Sync judgments", "", Type:=2)
    If VarType(renames) = vbBoolean Then Exit Sub ' Cancel
    ' Quotes and backslashes would end the Python string: names never need them here.
    renames = Replace(Replace(renames, """", ""), "\", "")
    RunPython "import udfs.ribbon; udfs.ribbon.sync_judgments(renames=r""" & renames & """)"
End Sub

' Append an ERP export (CSV) to the Transactions sheet of this workbook: the file is chosen
' here, the reading, checking and writing are udfs/ribbon.py's import_orders.
Public Sub CRM_ImportOrders(control As IRibbonControl)
    Dim exportFile As Variant
    exportFile = Application.GetOpenFilename( _
        "Order export (*.csv;*.txt),*.csv;*.txt", , "Import orders into Transactions")
    If VarType(exportFile) = vbBoolean Then Exit Sub ' Cancel
    ' A Windows path holds no double quote, so a raw Python string carries it as it is.
    RunPython "import udfs.ribbon; udfs.ribbon.import_orders(r""" & exportFile & """)"
End Sub

' Write a copy of this workbook that can be emailed to people without Python: of every
' customer, or of one account manager's customers only (udfs/ribbon.py's share).
Public Sub CRM_Share(control As IRibbonControl)
    Dim manager As Variant
    manager = Application.InputBox( _
        "A copy for one account manager only? Type the name (" & ManagerList() & _
        "), or leave blank for a copy of every customer:", "Make shareable copy", "", Type:=2)
    If VarType(manager) = vbBoolean Then Exit Sub ' Cancel
    ' Quotes and backslashes would end the Python string: names never need them here.
    manager = Replace(Replace(manager, """", ""), "\", "")
    RunPython "import udfs.ribbon; udfs.ribbon.share(manager=r""" & manager & """)"
End Sub

' The account managers of the Customers table, each once, separated by commas (shortened
' to fit the input box); empty when the table has no AccountManager column.
Private Function ManagerList() As String
    Dim column As Range, cell As Range, seen As String, name As String
    On Error Resume Next
    Set column = ThisWorkbook.Worksheets("Customers").ListObjects("tblCustomers") _
        .ListColumns("AccountManager").DataBodyRange
    On Error GoTo 0
    If column Is Nothing Then Exit Function
    For Each cell In column.Cells
        name = Trim(CStr(cell.Value))
        If Len(name) > 0 And InStr(1, "|" & seen & "|", "|" & name & "|", vbTextCompare) = 0 Then
            If Len(seen) > 0 Then seen = seen & "|"
            seen = seen & name
        End If
    Next cell
    ManagerList = Replace(seen, "|", ", ")
    If Len(ManagerList) > 150 Then ManagerList = Left(ManagerList, 147) & "..."
End Function

' Show the Help sheet (plain VBA on purpose: it must work where Python is not installed).
Public Sub CRM_Help(control As IRibbonControl)
    Dim sheet As Worksheet
    On Error Resume Next
    Set sheet = ThisWorkbook.Worksheets("Help")
    On Error GoTo 0
    If sheet Is Nothing Then
        MsgBox "This workbook has no sheet named Help.", vbInformation, "CRM"
        Exit Sub
    End If
    If sheet.Visible <> xlSheetVisible Then sheet.Visible = xlSheetVisible
    sheet.Activate
    sheet.Range("A1").Select
End Sub
